/** Runs a real agent (the CLI, as users run it) on a loopback port, for integration tests. */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentConnection, connectAgent } from '../../src/agent/client.js';
import { childrenOf, readNumber, waitFor } from './proc.js';
import { spawnCli } from './snapback-cli.js';

export const workloadScript = new URL('../fixtures/stateful-workload.py', import.meta.url).pathname;
/** Debian's python3: CRIU-friendly (no io_uring) and on every machine of this kind. */
export const python = '/usr/bin/python3';

export interface AgentProcess {
  address: string;
  dir: string;
  storage: string;
  stateDir: string;
  process: ChildProcess;
  client: AgentConnection;
  logs(): string;
  /** SIGTERM and wait (graceful: running operations finish first). */
  stop(): Promise<void>;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
  /** Removes the test's folder. */
  cleanup(): Promise<void>;
  /** The end of a suite: stops every workload the agent runs, the agent, and removes the folder. */
  shutdown(): Promise<void>;
}

export interface StartAgentOptions {
  dir?: string;
  /** The agent's node name (default `test-node`): agents sharing one storage need one each. */
  node?: string;
  /** The checkpoint storage (default `<dir>/checkpoints`), e.g. one shared by several agents. */
  storage?: string;
  /** The agent's state folder (default `<dir>/state`). */
  stateDir?: string;
  args?: string[];
  env?: Record<string, string>;
}

export async function startAgent(options: StartAgentOptions = {}): Promise<AgentProcess> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'snapback-agent-')));
  const storage = options.storage ?? join(dir, 'checkpoints');
  const stateDir = options.stateDir ?? join(dir, 'state');
  const node = options.node ?? 'test-node';
  const child = spawnCli(
    [
      'agent',
      '--listen',
      '127.0.0.1:0',
      '--storage',
      storage,
      '--state-dir',
      stateDir,
      '--node',
      node,
      ...(options.args ?? []),
    ],
    { env: { ...process.env, LOG_LEVEL: 'debug', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // SNAPBACK_TEST_AGENT_LOGS=DIR keeps every test agent's log, for chasing a failure after the fact.
  const keepLogs = process.env['SNAPBACK_TEST_AGENT_LOGS'];
  if (keepLogs !== undefined) {
    child.once(
      'exit',
      () => void writeFile(join(keepLogs, `agent-${child.pid}.log`), stderr).catch(() => {}),
    );
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = await waitFor(
    'the agent to listen',
    () => {
      if (child.exitCode !== null) throw new Error(`agent exited with ${child.exitCode}: ${stderr}`);
      return /agent listening on (\S+)/.exec(stdout)?.[1];
    },
    20_000,
  ).catch((err: unknown) => {
    // An agent that never listened must not outlive the test that started it.
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}; its log ends with: ${stderr.slice(-2000)}`);
  });
  const client = connectAgent(address);
  const agent: AgentProcess = {
    address,
    dir,
    storage,
    stateDir,
    process: child,
    client,
    logs: () => stderr,
    async stop() {
      client.close();
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      client.close();
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
    async shutdown() {
      const { workloads } = await client.listWorkloads({}).catch(() => ({ workloads: [] }));
      for (const w of workloads) if (w.running) await client.stopWorkload({ name: w.name }).catch(() => {});
      await agent.stop();
      await agent.cleanup();
    },
  };
  return agent;
}

/** Asks a stateful workload for the hash of its data. */
export async function workloadHash(out: string): Promise<string> {
  await rm(`${out}.hash`, { force: true });
  await writeFile(`${out}.hash-request`, '');
  return waitFor(
    'the workload to hash its data',
    async () => (await readFile(`${out}.hash`, 'utf8').catch(() => '')).trim() || undefined,
    30_000,
  );
}

/**
 * Sets a stateful workload's counter file to 0, keeping the file and its size: the workload holds it open,
 * and CRIU restores an open file only if it is still there with the size it had.
 */
export async function resetCounter(out: string): Promise<void> {
  await writeFile(out, `${'0'.padStart(19)}\n`);
}

/** What the agent of `node` has staged in `storage` (its own folder under tmp/). */
export async function stagingEntries(storage: string, node = 'test-node'): Promise<string[]> {
  return readdir(join(storage, 'tmp', node)).catch(() => []);
}

/** The command of a process-runtime workload: the one child of its init (snapback-init), `initPid`. */
export function commandPidOf(initPid: number): Promise<number> {
  return waitFor(`the command under init ${initPid}`, async () => (await childrenOf(initPid))[0]);
}

/**
 * Starts test/fixtures/stateful-workload.py (MIB of random data and a counter written to `<dir>/<name>.counter`)
 * through the agent, and waits until it has counted past `minCount`. `pid` is the workload's (its init's),
 * `commandPid` the Python process's; `commandEnv` are variables only the command has, not its init (through
 * `env K=V … python3`): a CUDA stand-in's marker, since only a program holds a CUDA context.
 */
export async function startStatefulWorkload(
  agent: AgentProcess,
  name: string,
  mib: number,
  options: { env?: Record<string, string>; commandEnv?: Record<string, string>; minCount?: number } = {},
): Promise<{ pid: number; commandPid: number; out: string }> {
  const out = join(agent.dir, `${name}.counter`);
  const commandEnv = Object.entries(options.commandEnv ?? {}).map(([k, v]) => `${k}=${v}`);
  const workload = await agent.client.startWorkload({
    name,
    command: [
      ...(commandEnv.length > 0 ? ['env', ...commandEnv] : []),
      python,
      workloadScript,
      String(mib),
      out,
    ],
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  const min = options.minCount ?? 2;
  await waitFor(`${name} to count past ${min}`, async () => ((await readNumber(out)) ?? 0) > min, 60_000);
  return { pid: workload.pid, commandPid: await commandPidOf(workload.pid), out };
}
