/** A real agent for the benchmarks (the CLI, as users run it) and memory workloads started through it. */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AgentConnection, connectAgent } from '../src/agent/client.js';
import { projectRoot } from '../src/cli/self.js';
import { type ChildService, startAgentProcess } from '../src/demo/stack.js';

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
): Promise<BenchAgent> {
  const storage = join(dir, 'checkpoints');
  const stateDir = join(dir, 'state');
  await mkdir(dir, { recursive: true });
  const { address, service } = await startAgentProcess({
    storage,
    stateDir,
    node: 'bench-node',
    logFile: join(dir, 'agent.log'),
    signal,
    extraArgs,
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
 * A workload holding `mib` MiB of written memory, started through the agent in a working directory of its
 * own (CRIU dumps of tasks sharing one are serialised: src/executor/dump-lock.ts); resolves when ready.
 */
export async function startMemoryWorkload(
  agent: BenchAgent,
  name: string,
  mib: number,
  dir: string,
): Promise<Started> {
  const cwd = join(dir, 'cwd', name);
  await mkdir(cwd, { recursive: true });
  const w = await agent.client.startWorkload({
    name,
    command: [python, memoryScript, String(mib)],
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
