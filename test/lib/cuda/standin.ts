/**
 * The cuda-checkpoint, libcuda and nvidia-smi stand-ins (test/fixtures) for tests: a private state
 * directory, real sleeping processes to act on, a runner that finds the tool stand-ins first on PATH, and
 * driver bindings whose helper loads the libcuda stand-in. Runner and helpers carry their environment
 * themselves, so no test changes process.env and knobs cannot leak from one test into another.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type CudaCheckpoint,
  createDriverCheckpoint,
  type DriverCheckpointOptions,
} from '../../../src/lib/cuda/index.js';
import { type Runner, runTool } from '../../../src/lib/tools/index.js';
import { waitFor } from '../../helpers/proc.js';
import { buildDriverStandIn, type DriverCall, driverCalls } from './driver-standin.js';

const fixtures = resolve(dirname(fileURLToPath(import.meta.url)), '../../fixtures');

export interface StandIn {
  dir: string;
  /** The real runner, with the stand-ins on PATH and these knobs (CUDA_STANDIN_*) in the environment. */
  runner(knobs?: Record<string, string>): Runner;
  /**
   * The driver binding, its helper (built from native/) loading the libcuda stand-in, with these knobs in
   * the helper's environment. Closed by cleanup.
   */
  driver(knobs?: Record<string, string>, options?: DriverCheckpointOptions): Promise<CudaCheckpoint>;
  /** What the libcuda stand-in was called with, in order, by every helper of this stand-in. */
  driverCalls(): Promise<DriverCall[]>;
  /** Makes `pid` a CUDA process in the given state, on the given GPUs. */
  register(pid: number, state?: string, devices?: string[]): Promise<void>;
  state(pid: number): Promise<string | undefined>;
  /** The successful actions on `pid`, as "action from->to". */
  actions(pid: number): Promise<string[]>;
  /** A real process (sleep 60) that the test owns and cleanup kills. */
  spawnProcess(): Promise<number>;
  cleanup(): Promise<void>;
}

export async function createStandIn(): Promise<StandIn> {
  const dir = await mkdtemp(join(tmpdir(), 'snapback-cuda-'));
  const children: ChildProcess[] = [];
  const bindings: CudaCheckpoint[] = [];
  // The stand-ins' `#!/usr/bin/env node` finds this very node first.
  const path = [fixtures, dirname(process.execPath), process.env['PATH'] ?? ''].join(delimiter);

  return {
    dir,
    runner(knobs = {}) {
      const env = { PATH: path, CUDA_STANDIN_STATE: dir, ...knobs };
      return (file, args, options = {}) =>
        runTool(file, args, { ...options, env: { ...env, ...options.env } });
    },
    async driver(knobs = {}, options = {}) {
      const { helper, library } = await buildDriverStandIn();
      const cuda = createDriverCheckpoint({
        helper,
        library,
        ...options,
        env: { CUDA_STANDIN_STATE: dir, ...knobs, ...options.env },
      });
      bindings.push(cuda);
      return cuda;
    },
    driverCalls: () => driverCalls(dir),
    async register(pid, state = 'running', devices) {
      await writeFile(join(dir, `${pid}.json`), JSON.stringify({ state, ...(devices ? { devices } : {}) }));
    },
    async state(pid) {
      try {
        return (JSON.parse(await readFile(join(dir, `${pid}.json`), 'utf8')) as { state: string }).state;
      } catch {
        return undefined;
      }
    },
    async actions(pid) {
      let log = '';
      try {
        log = await readFile(join(dir, 'log'), 'utf8');
      } catch {
        // nothing happened yet
      }
      return log
        .split('\n')
        .filter((line) => line.startsWith(`${pid} `))
        .map((line) => line.slice(String(pid).length + 1));
    },
    async spawnProcess() {
      const child = spawn('sleep', ['60'], { stdio: 'ignore' });
      children.push(child);
      const pid = await waitFor('sleep to start', () => child.pid);
      return pid;
    },
    async cleanup() {
      await Promise.all(bindings.map((cuda) => cuda.close()));
      for (const child of children) child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
