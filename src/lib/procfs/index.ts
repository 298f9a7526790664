/** Reading /proc: process trees, liveness, namespaces, and what CRIU would refuse to dump. */
import { readdir, readFile, readlink } from 'node:fs/promises';

/** Alive and not a zombie. */
export async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X' && state !== '';
  } catch {
    return false;
  }
}

export async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  for (const tid of tasks) {
    const text = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');
    out.push(...text.trim().split(/\s+/).filter(Boolean).map(Number));
  }
  return out;
}

/** `pid` and every descendant, parents first. */
export async function processTree(pid: number): Promise<number[]> {
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift()!;
    if (tree.includes(next)) continue;
    tree.push(next);
    queue.push(...(await childrenOf(next)));
  }
  return tree;
}

/** The pids of `pids` that hold an io_uring instance (CRIU cannot dump those). */
export async function pidsWithIoUring(pids: readonly number[]): Promise<number[]> {
  const out: number[] = [];
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      if (target === 'anon_inode:[io_uring]') {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

/** The pid as seen inside its innermost PID namespace (NSpid's last field). */
export async function namespacePid(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const line = status.split('\n').find((l) => l.startsWith('NSpid:'));
  const last = line?.trim().split(/\s+/).pop();
  return last === undefined ? undefined : Number(last);
}

export async function commandLine(pid: number): Promise<string[]> {
  const text = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return text.split('\0').filter(Boolean);
}

/** Resident bytes of `pids` (statm's second field, in pages). */
export async function residentBytes(pids: readonly number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    const statm = await readFile(`/proc/${pid}/statm`, 'utf8').catch(() => '');
    const pages = Number(statm.split(' ')[1] ?? 0);
    if (Number.isFinite(pages)) total += pages * 4096;
  }
  return total;
}

/** Host pids of `tree` whose innermost-namespace pid is one of `nsPids`, in the order of `nsPids`. */
export async function hostPidsOf(tree: readonly number[], nsPids: readonly number[]): Promise<number[]> {
  const byNs = new Map<number, number>();
  for (const pid of tree) {
    const ns = await namespacePid(pid);
    if (ns !== undefined) byNs.set(ns, pid);
  }
  return nsPids.map((ns) => byNs.get(ns)).filter((p): p is number => p !== undefined);
}

/** The working directories of `pids` (those still readable), without duplicates. */
export async function workingDirectories(pids: readonly number[]): Promise<string[]> {
  const dirs = await Promise.all(pids.map((pid) => readlink(`/proc/${pid}/cwd`).catch(() => undefined)));
  return [...new Set(dirs.filter((d): d is string => d !== undefined))];
}

/** The process's start time (clock ticks since boot, stat field 22): with the pid, identifies it uniquely. */
export async function startTimeOf(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const value = Number(fields[19]);
  return stat === '' || !Number.isFinite(value) ? undefined : value;
}

/**
 * Whether `pid` is still the process that had `startTime` (and runs): a pid the kernel has since given to
 * another process is not. An unknown start time matches nothing.
 */
export async function isSameProcess(pid: number, startTime: number | undefined): Promise<boolean> {
  return startTime !== undefined && (await isRunning(pid)) && (await startTimeOf(pid)) === startTime;
}

/** Pids of every process whose command line satisfies `matches`. */
export async function findProcesses(matches: (argv: string[]) => boolean): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    if (matches(await commandLine(Number(entry)))) out.push(Number(entry));
  }
  return out;
}

export { formatListener, listenersOf, portClashes, type TcpListener } from './listeners.js';
