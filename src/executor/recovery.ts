/**
 * What a restarted agent does before it serves: waits for any CRIU its predecessor left running (a dump or
 * restore must never be cut short — see src/lib/criu), then undoes what the journal says was left half-done:
 * CUDA processes still locked or checkpointed are thawed, then workloads quiesced by their pre-checkpoint
 * hook are woken by their post-restore hook, and restored trees never confirmed are killed.
 * Staging is swept only after this, by the store.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatHook, type HookRunner } from '../lib/hooks/index.js';
import { findProcesses, isRunning, isSameProcess } from '../lib/procfs/index.js';
import type { Runtime } from '../lib/runtime/index.js';
import type { Logger } from '../log.js';
import type { CudaPhase } from './cuda-phase.js';
import type { Journal, JournalEntry } from './journal.js';

const CRIU_COMMANDS = new Set(['dump', 'restore', 'lazy-pages']);

export interface RecoveryDeps {
  journal: Journal;
  cuda: CudaPhase | undefined;
  runtime: Runtime;
  /** Wakes what a pre-checkpoint hook quiesced. */
  hooks: HookRunner;
  logger: Logger;
  /**
   * This agent's own staging folder: a CRIU whose command line names a path below it is one its predecessor
   * left. Another agent's CRIU on the same storage (a shared volume) is none of this agent's business.
   */
  stagingRoot: string;
  /** How long to wait for a leftover CRIU (its own timeout bounds it). */
  criuTimeoutMs: number;
}

export interface RecoveryReport {
  /** CRIU processes left running by the previous agent, waited for. */
  criuWaited: number[];
  /** Pids thawed (CUDA restored + unlocked), with the steps that ran. */
  thawed: { pids: number[]; steps: string[] }[];
  /** Restored trees never confirmed, killed. */
  killed: number[];
  /** Workloads left quiesced by their pre-checkpoint hook, woken (or why not). */
  woken: { pid: number; outcome: string }[];
}

export async function recover(deps: RecoveryDeps): Promise<RecoveryReport> {
  const log = deps.logger.child({ component: 'recovery' });
  const report: RecoveryReport = { criuWaited: [], thawed: [], killed: [], woken: [] };
  // `criu dump|restore|lazy-pages …` (possibly behind nsenter) on a path in our own staging; never
  // ourselves, although the agent's own command line names both criu and the storage.
  const isCriuRun = (argv: string[]) =>
    argv.some((a, i) => (a === 'criu' || a.endsWith('/criu')) && CRIU_COMMANDS.has(argv[i + 1] ?? ''));
  // A CRIU run inside a container names our paths through the agent's root descriptor
  // (/proc/self/fd/3/…, src/lib/criu/placement.ts): the staging root anywhere in an argument counts.
  const ours = (argv: string[]) => isCriuRun(argv) && argv.some((a) => a.includes(`${deps.stagingRoot}/`));
  report.criuWaited = (await findProcesses(ours)).filter((pid) => pid !== process.pid);
  if (report.criuWaited.length > 0) {
    log.warn({ pids: report.criuWaited }, 'waiting for CRIU left running by a previous agent');
    const deadline = Date.now() + deps.criuTimeoutMs;
    while (Date.now() < deadline) {
      const running = await Promise.all(report.criuWaited.map(isRunning));
      if (!running.some(Boolean)) break;
      await sleep(100);
    }
  }
  const leftovers = await deps.journal.leftovers();
  // A workload is woken only once its CUDA processes are thawed: those entries come first.
  const quiesced = leftovers.filter((l) => l.entry.kind === 'quiesced');
  for (const { entry, remove } of leftovers.filter((l) => l.entry.kind !== 'quiesced')) {
    if (entry.kind === 'cuda-suspended') {
      const alive = (
        await Promise.all(entry.pids.map(async (p) => ((await isRunning(p)) ? p : undefined)))
      ).filter((p): p is number => p !== undefined);
      if (alive.length > 0 && deps.cuda === undefined) {
        log.error(
          { entry },
          'a previous agent left CUDA processes suspended, but cuda-checkpoint is not available to thaw them',
        );
        continue;
      }
      const steps = alive.length > 0 && deps.cuda ? await deps.cuda.rollback(alive) : [];
      report.thawed.push({ pids: alive, steps });
      log.warn(
        { checkpointId: entry.checkpointId, pids: alive, steps },
        'thawed a workload a previous agent left frozen',
      );
    } else if (entry.kind === 'restoring') {
      // Left before CRIU finished: the pid CRIU wrote, if it did (the target is undone either way — a
      // placeholder is killed, so that the pod restarts it and its snapback-init starts cold).
      const pid = entry.pid > 0 ? entry.pid : await pidFromFile(entry.pidFile);
      const left = entry.pid > 0 ? await isSameProcess(entry.pid, entry.startTime) : true;
      if (left) {
        await deps.runtime.abandon({ pid: pid ?? 0, namespacePid: undefined, workload: entry.workload });
        report.killed.push(pid ?? 0);
        log.warn(
          { checkpointId: entry.checkpointId, pid: entry.pid },
          'killed a restore a previous agent left unconfirmed',
        );
      }
    }
    await remove();
  }
  for (const { entry, remove } of quiesced) {
    const woken = await wakeQuiesced(deps, entry);
    if (woken !== undefined) {
      report.woken.push(woken);
      log.warn(
        { checkpointId: entry.checkpointId, ...woken },
        'woke a workload a previous agent left quiesced',
      );
    }
    await remove();
  }
  return report;
}

/** The pid CRIU wrote to its pid file, if it did. */
async function pidFromFile(file: string | undefined): Promise<number | undefined> {
  if (file === undefined) return undefined;
  const pid = Number.parseInt((await readFile(file, 'utf8').catch(() => '')).trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Runs the wake hook of a workload a previous agent quiesced, if it is still that process. */
async function wakeQuiesced(
  deps: RecoveryDeps,
  entry: JournalEntry,
): Promise<{ pid: number; outcome: string } | undefined> {
  if (entry.kind !== 'quiesced' || !(await isSameProcess(entry.pid, entry.startTime))) return undefined;
  const outcome = await deps.hooks.run(entry.wake, entry.pid).then(
    (answer) => `${formatHook(entry.wake)} ${answer}`,
    (err: unknown) => `waking it failed: ${(err as Error).message}`,
  );
  return { pid: entry.pid, outcome };
}
