/**
 * What the benchmarks set the pipeline beside: CRIU run by hand with the agent's flags, and the machine
 * brought to the same state before each measurement.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultCriuSettings, dumpArgs } from '../src/lib/criu/options.js';
import { root } from './agent.js';

export const criu = existsSync(join(root, '.tools/criu/bin/criu'))
  ? join(root, '.tools/criu/bin/criu')
  : 'criu';

/** Runs `file args…` (with `extraFds` from fd 3 on); throws with the tail of its stderr when it fails. */
export async function exec(file: string, args: string[], extraFds: number[] = []): Promise<void> {
  const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe', ...extraFds] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0)
    throw new Error(`${file} ${args.slice(0, 2).join(' ')} failed (${code}): ${stderr.slice(-500)}`);
}

/**
 * Writes back dirty pages, so that one measurement does not pay for the previous one's writes, and empties
 * the page cache, so that each starts with the same free memory: on a virtual machine the first touch of
 * a page the host has not backed recently costs far more than a copy, and whichever of two back-to-back
 * 1 GiB dumps came second would pay for it (seen here as 3–7× slower, in either order).
 */
export async function settle(): Promise<void> {
  await exec('sync', []);
  await writeFile('/proc/sys/vm/drop_caches', '1');
}

/** A raw `criu dump` of `pid`'s tree into `imagesDir`, leaving it running, with the agent's flags. */
export function rawDump(pid: number, imagesDir: string): Promise<void> {
  return exec(
    criu,
    dumpArgs(defaultCriuSettings, {
      pid,
      imagesDir,
      logFile: join(imagesDir, 'dump.log'),
      leaveRunning: true,
    }),
  );
}
