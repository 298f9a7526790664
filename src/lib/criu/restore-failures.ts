/**
 * CRIU restore failures that say what is wrong with the place a checkpoint is restored into, rather than
 * with snapback or CRIU: said in words, as FAILED_PRECONDITION, instead of an internal error. The patterns
 * are CRIU 4.x's own messages (criu/files-reg.c, criu/cr-restore.c).
 */
import { readFile } from 'node:fs/promises';
import { ErrorCode, SnapbackError } from '../../errors.js';

const KNOWN: readonly { pattern: RegExp; say: (m: RegExpExecArray) => string }[] = [
  {
    pattern: /Can't open file (\S+) on restore: No such file or directory/,
    say: (m) =>
      `the workload held /${m[1]} open when it was checkpointed, and that file does not exist where it is restored (the process runtime keeps no copy of files; a container's files travel in its checkpoint)`,
  },
  {
    pattern: /File (\S+) has bad size (\d+) \(expect (\d+)\)/,
    say: (m) =>
      `/${m[1]}, which the workload held open, has changed since the checkpoint (${m[2]} bytes now, ${m[3]} then)`,
  },
  {
    pattern: /Can't fork for (\d+): File exists/,
    say: (m) => `pid ${m[1]}, which the checkpoint needs, is taken where it is restored`,
  },
];

/** The same failure, in words when CRIU's log names a known cause; otherwise `err` itself. */
export async function explainRestoreFailure(err: unknown, logFile: string): Promise<unknown> {
  const log = await readFile(logFile, 'utf8').catch(() => '');
  for (const { pattern, say } of KNOWN) {
    const match = pattern.exec(log);
    if (match !== null) {
      return new SnapbackError(ErrorCode.FAILED_PRECONDITION, `criu restore failed: ${say(match)}`, {
        cause: err,
        phase: 'criuRestore',
      });
    }
  }
  return err;
}
