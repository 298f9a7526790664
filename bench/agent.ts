/** A real agent for the benchmarks (the CLI, as users run it) and memory workloads started through it. */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AgentConnection, connectAgent } from '../src/agent/client.js';
import { projectRoot } from '../src/cli/self.js';
import { type ChildService, startAgentProcess } from '../src/demo/stack.js';
import { childrenOf } from '../src/lib/procfs/index.js';

export const root = projectRoot();
export const python = '/usr/bin/python3';
const memoryScript = join(root, 'bench', 'workloads', 'memory.py');

export interface BenchAgent {
  address: string;
  client: AgentConnection;
  storage: string;
  stateDir: string;
  service: ChildService;
  stop(): Promise<void>;
}

export async function startBenchAgent(
  dir: string,
  signal: AbortSignal,
  extraArgs: readonly string[] = [],
  env: Record<string, string> = {},
  node = 'bench-node',
): Promise<BenchAgent> {
  const storage = join(dir, 'checkpoints');
  const stateDir = join(dir, 'state');
  await mkdir(dir, { recursive: true });
  const { address, service } = await startAgentProcess({
    storage,
    stateDir,
    node,
    logFile: join(dir, 'agent.log'),
    signal,
    extraArgs,
    env,
  });
  const client = connectAgent(address);
  return {
    address,
    client,
    storage,
    stateDir,
    service,
    async stop() {
      client.close();
      await service.stop();
    },
  };
}

export interface Started {
  name: string;
  pid: number;
  stdoutPath: string;
  stderrPath: string;
}

/**
 * The longest the workload's clock stood still since the previous call (its freeze), for one started with
 * `tick`: memory.py prints it on SIGUSR1, sent to the program under the workload's snapback-init.
 */
export async function longestGapMs(w: Started): Promise<number> {
  const [program] = await childrenOf(w.pid);
  if (program === undefined) throw new Error(`workload ${w.name} has no program under its init`);
  const lines = async () =>
    (await readFile(w.stdoutPath, 'utf8')).split('\n').filter((l) => l.startsWith('gap '));
  const before = (await lines()).length;
  process.kill(program, 'SIGUSR1');
  for (let i = 0; i < 200; i++) {
    const now = await lines();
    if (now.length > before) return Number(now[now.length - 1]!.slice('gap '.length));
    await sleep(10);
  }
  throw new Error(`workload ${w.name} did not report its longest gap`);
}

/**
 * A workload holding `mib` MiB of written memory (with `tick`, ticking a clock: longestGapMs), started through the agent in a working directory of its
 * own (CRIU dumps of tasks sharing one are serialised: src/executor/dump-lock.ts); resolves when ready.
 */
export async function startMemoryWorkload(
  agent: BenchAgent,
  name: string,
  mib: number,
  dir: string,
  options: { tick?: boolean } = {},
): Promise<Started> {
  const cwd = join(dir, 'cwd', name);
  await mkdir(cwd, { recursive: true });
  const w = await agent.client.startWorkload({
    name,
    command: [python, memoryScript, String(mib), ...(options.tick ? ['--tick'] : [])],
    cwd,
    env: {},
  });
  for (let i = 0; i < 1200; i++) {
    if ((await readFile(w.stdoutPath, 'utf8').catch(() => '')).includes('ready')) {
      return { name, pid: w.pid, stdoutPath: w.stdoutPath, stderrPath: w.stderrPath };
    }
    await sleep(50);
  }
  throw new Error(`workload ${name} did not get ready; see ${w.stderrPath}`);
}

export async function stopWorkload(agent: BenchAgent, name: string): Promise<void> {
  await agent.client.stopWorkload({ name });
}

export async function deleteCheckpoint(agent: BenchAgent, checkpointId: string): Promise<void> {
  await agent.client.deleteCheckpoint({ checkpointId });
}

/** Wall time of `work`, in ms. */
export async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await work();
  return [value, performance.now() - started];
}
