/**
 * Everything the demo starts registers how to stop it; `run()` stops them in reverse order, each step
 * on its own (one failing does not keep the others from running), whether the demo succeeded, failed or
 * was interrupted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { connectAgent } from '../agent/client.js';
import { createWorkloadRegistry } from '../lib/process/registry.js';
import { isRunning } from '../lib/procfs/index.js';

export interface Teardown {
  add(what: string, stop: () => Promise<void> | void): void;
  /** Runs every step, last added first; returns what could not be stopped. */
  run(): Promise<string[]>;
}

export function createTeardown(): Teardown {
  const steps: { what: string; stop: () => Promise<void> | void }[] = [];
  return {
    add(what, stop) {
      steps.push({ what, stop });
    },
    async run() {
      const failed: string[] = [];
      for (const step of steps.splice(0).reverse()) {
        try {
          await step.stop();
        } catch (err) {
          failed.push(`${step.what}: ${(err as Error).message}`);
        }
      }
      return failed;
    },
  };
}

async function kill(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  for (let i = 0; i < 500 && (await isRunning(pid)); i++) await sleep(10);
}

/**
 * Stops every workload of the demo's agent: through the agent while it answers, then (the agent may
 * already be gone, e.g. after Ctrl-C reached it too) every running pid its registry or the demo knows.
 */
export async function stopWorkloads(
  agent: string | undefined,
  stateDir: string,
  known: Iterable<number>,
): Promise<void> {
  if (agent !== undefined) {
    const client = connectAgent(agent);
    try {
      const deadline = new Date(Date.now() + 5_000);
      const { workloads } = await client.listWorkloads({}, { deadline });
      for (const w of workloads.filter((w) => w.running)) {
        await client.stopWorkload({ name: w.name }, { deadline: new Date(Date.now() + 10_000) });
      }
    } catch {
      // the agent is gone: the pids below
    } finally {
      client.close();
    }
  }
  const recorded = (await createWorkloadRegistry(stateDir).list()).map((w) => w.pid);
  for (const pid of new Set([...recorded, ...known])) {
    if (pid > 0 && (await isRunning(pid))) await kill(pid);
  }
}
