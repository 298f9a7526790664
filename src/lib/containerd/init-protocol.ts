/**
 * The agent's side of snapback-init (native/snapback-init.c), the PID 1 a placeholder container runs so
 * that a restored workload lives as the container's own PID 1 would. The init keeps two small files in
 * its control folder (an emptyDir, by default the folder the init binary is in): `state`, its own
 * ("waiting", "restored PID", "cold REASON"), and `decision`, the agent's ("restoring", "restored PID",
 * "cold REASON"), each written whole by rename. The agent reaches them from the host through
 * /proc/PID/root, so nothing of the agent needs to be inside the container.
 */
import { readFile, readlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { writeFileDurably } from '../storage/index.js';

export const INIT_NAME = 'snapback-init';

export type InitState =
  | { kind: 'waiting' }
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
  // unless the pod sets workingDir; an absolute one is what the init uses.
  const controlDir = join(`/proc/${pid}/root`, isAbsolute(inside) ? inside : join('/', inside));
  return {
    pid,
    live,
    controlDir,
    async state() {
      const text = (await readFile(join(controlDir, 'state'), 'utf8').catch(() => '')).trim();
      return parseInitState(text);
    },
    async decide(decision) {
      const text =
        decision === 'restoring'
          ? 'restoring'
          : 'restored' in decision
            ? `restored ${decision.restored}`
            : `cold ${decision.cold.replace(/\s+/g, ' ').slice(0, 200)}`;
      await writeFileDurably(join(controlDir, 'decision'), `${text}\n`);
    },
  };
}

export function parseInitState(text: string): InitState {
  if (text === 'waiting') return { kind: 'waiting' };
  const restored = /^restored (\d+)$/.exec(text);
  if (restored) return { kind: 'restored', pid: Number(restored[1]) };
  if (text.startsWith('cold')) return { kind: 'cold', reason: text.slice(5) };
  return { kind: 'unknown', text };
}
