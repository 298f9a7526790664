/**
 * The agent's side of snapback-init (native/snapback-init.c), the PID 1 a placeholder container runs so
 * that a restored workload lives as the container's own PID 1 would. The init keeps two small files in
 * its control folder (an emptyDir, by default the folder the init binary is in): `state`, its own
 * ("waiting", "restored PID", "cold REASON"), and `decision`, the agent's ("restoring", "restored PID",
 * "cold REASON"), each written whole by rename. The agent reaches them from the host through
 * /proc/PID/root, so nothing of the agent needs to be inside the container.
 */
import { constants } from 'node:fs';
import { type FileHandle, lstat, open, readFile, readlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { writeFileDurably } from '../storage/index.js';

export const INIT_NAME = 'snapback-init';

export type InitState =
  | { kind: 'waiting' }
  | { kind: 'restoring' }
  | { kind: 'restored'; pid: number }
  | { kind: 'cold'; reason: string }
  | { kind: 'unknown'; text: string };

export interface SnapbackInit {
  /** Host pid of the container's PID 1. */
  pid: number;
  /**
   * Whether PID 1 still is snapback-init. It is not once it started the container's command cold (it
   * became that command); its control files still say so.
   */
  live: boolean;
  /** Its control folder, as the host reaches it (/proc/PID/root/…). */
  controlDir: string;
  state(): Promise<InitState>;
  /** Tells it a restore begins, and waits until it has said so back (its wait can no longer expire). */
  beginRestore(timeoutMs?: number): Promise<void>;
  decide(decision: 'restoring' | { restored: number } | { cold: string }): Promise<void>;
}

/**
 * The snapback-init a container started as its PID 1 (`pid`): running now, or — when `startedAs` (the
 * container's command, from its OCI spec) names it — having become the container's command. Undefined when
 * the container's PID 1 is, and was, anything else.
 */
export async function snapbackInitOf(
  pid: number,
  startedAs: readonly string[] = [],
): Promise<SnapbackInit | undefined> {
  // The executable as the container sees it (readlink of /proc/PID/exe is relative to the task's root),
  // which is how the init itself finds its default control folder.
  const running = await readlink(`/proc/${pid}/exe`).catch(() => '');
  const live = basename(running) === INIT_NAME;
  const exe = live ? running : (startedAs[0] ?? '');
  if (basename(exe) !== INIT_NAME) return undefined;
  const argv = live
    ? (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0')
    : [...startedAs];
  const flag = argv.indexOf('--control');
  const separator = argv.indexOf('--');
  const inside =
    flag > 0 && (separator < 0 || flag < separator) && argv[flag + 1] !== undefined
      ? argv[flag + 1]!
      : dirname(exe);
  // A relative control folder is relative to the init's working directory, which is the container's `/`
  // unless the pod sets workingDir; an absolute one is what the init uses. The pod chooses it: a `..` or a
  // symbolic link on the way could lead the agent, through /proc/PID/root, to the node's own files.
  const root = `/proc/${pid}/root`;
  const controlDir = await containedFolder(root, isAbsolute(inside) ? inside : join('/', inside));
  if (controlDir === undefined) return undefined;
  const init: SnapbackInit = {
    pid,
    live,
    controlDir,
    async state() {
      return parseInitState(await readSmallFile(join(controlDir, 'state')));
    },
    async beginRestore(timeoutMs = 5_000) {
      await init.decide('restoring');
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const state = await init.state();
        if (state.kind === 'restoring') return;
        if (state.kind !== 'waiting' || Date.now() > deadline) {
          throw new SnapbackError(
            ErrorCode.FAILED_PRECONDITION,
            `snapback-init in container pid ${pid} did not take the restore (it is ${state.kind === 'cold' ? `cold: ${state.reason}` : state.kind})`,
          );
        }
        await sleep(20);
      }
    },
    async decide(decision) {
      const text =
        decision === 'restoring'
          ? 'restoring'
          : 'restored' in decision
            ? `restored ${decision.restored}`
            : `cold ${decision.cold.replace(/\s+/g, ' ').slice(0, 200)}`;
      // Checked again right before the write: the container may have changed it since.
      if ((await containedFolder(root, controlDir.slice(root.length))) === undefined) {
        throw new SnapbackError(
          ErrorCode.FAILED_PRECONDITION,
          `snapback-init's control folder in container pid ${pid} is no longer a plain folder`,
        );
      }
      await writeFileDurably(join(controlDir, 'decision'), `${text}\n`);
    },
  };
  return init;
}

/**
 * `root` + `path` when every component is a plain folder (no `..`, no symbolic link, which /proc/PID/root
 * would resolve against the node's root): the only way the agent reaches a container's files it writes.
 */
async function containedFolder(root: string, path: string): Promise<string | undefined> {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return undefined;
  let current = root;
  for (const part of parts) {
    current = join(current, part);
    const info = await lstat(current).catch(() => undefined);
    if (info === undefined || !info.isDirectory()) return undefined;
  }
  return current;
}

/** A control file: a regular file, never followed as a link, never a FIFO that would block, 256 bytes at most. */
async function readSmallFile(path: string): Promise<string> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    if (!(await handle.stat()).isFile()) return '';
    const buffer = Buffer.alloc(256);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString('utf8').trim();
  } catch {
    return '';
  } finally {
    await handle?.close();
  }
}

export function parseInitState(text: string): InitState {
  if (text === 'waiting') return { kind: 'waiting' };
  if (text === 'restoring') return { kind: 'restoring' };
  const restored = /^restored (\d+)$/.exec(text);
  if (restored) return { kind: 'restored', pid: Number(restored[1]) };
  if (text.startsWith('cold')) return { kind: 'cold', reason: text.slice(5) };
  return { kind: 'unknown', text };
}
