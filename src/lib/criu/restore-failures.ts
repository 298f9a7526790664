/**
 * CRIU restore failures that say what is wrong with the place a checkpoint is restored into, rather than
 * with snapback or CRIU: said in words, as FAILED_PRECONDITION, instead of an internal error. The patterns
 * are CRIU 4.x's own messages (criu/files-reg.c, criu/cr-restore.c).
 */
import { readFile } from 'node:fs/promises';
import { ErrorCode, SnapbackError } from '../../errors.js';

const KNOWN: readonly { pattern: RegExp; say: (m: RegExpExecArray, log: string) => string }[] = [
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
    // criu/sk-inet.c, by the task (`2:`) whose bind failed; tasks restore at once, their lines interleave.
    pattern:
      /(\d+): Error \(criu\/sk-inet\.c:\d+\): inet: Can't bind inet socket[^\n]*Address already in use/,
    say: (m, log) =>
      `${listenerOfTask(log.slice(0, m.index), m[1]!)}, where the workload listened, is taken where it is restored (another process listens there)`,
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
      return new SnapbackError(ErrorCode.FAILED_PRECONDITION, `criu restore failed: ${say(match, log)}`, {
        cause: err,
        phase: 'criuRestore',
      });
    }
  }
  return err;
}

/** `127.0.0.1:8080`: the last listening socket task `task` set out to restore in `log`, or words for it. */
function listenerOfTask(log: string, task: string): string {
  const line = new RegExp(
    `^\\(\\S+\\)\\s+${task}: inet: \\s*Restore: .*\\bport (\\d+) state TCP_LISTEN\\s+src_addr (\\S+)`,
    'gm',
  );
  const last = [...log.matchAll(line)].pop();
  return last === undefined ? 'a port' : `${last[2]}:${last[1]}`;
}
