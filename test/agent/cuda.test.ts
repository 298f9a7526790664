/**
 * The CUDA phase through the real agent, real CRIU and real processes, over both backends: the
 * cuda-checkpoint stand-in (test/fixtures) on PATH, and snapback-cuda-helper (built from native/) loading
 * the libcuda stand-in. The state sequence of every step, device maps between "nodes", every failure rolling
 * the workload back to `running`, one CUDA initialisation per agent on the driver, and how the backend is
 * chosen. No GPU is involved: this exercises snapback's use of the CUDA checkpoint contract, not the driver.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type AgentProcess,
  commandPidOf,
  startAgent,
  startStatefulWorkload,
} from '../helpers/agent-process.js';
import { isAlive, isRunning, readNumber, waitFor } from '../helpers/proc.js';
import { buildDriverStandIn, type DriverStandInBuild, driverCalls } from '../lib/cuda/driver-standin.js';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;
const GPUS = 'GPU-aaaaaaaa-0000-0000-0000-000000000001,GPU-aaaaaaaa-0000-0000-0000-000000000002';
const OTHER_GPUS = 'GPU-bbbbbbbb-0000-0000-0000-000000000001,GPU-bbbbbbbb-0000-0000-0000-000000000002';

describe('agent: CUDA phase with the cuda-checkpoint stand-in (real CRIU)', () => {
  let main: AgentProcess;
  let root: string;
  let state: string;
  const agents: AgentProcess[] = [];

  async function cudaAgent(
    name: string,
    env: Record<string, string> = {},
    args: string[] = [],
  ): Promise<AgentProcess> {
    const agent = await startAgent({
      dir: join(root, name),
      node: name,
      // One storage for every "node", as a shared volume in a cluster; the tool, whatever this machine has.
      args: ['--storage', join(root, 'shared-storage'), '--cuda-backend', 'tool', ...args],
      env: {
        PATH: `${fixtures}:${process.env['PATH']}`,
        CUDA_STANDIN_STATE: state,
        CUDA_STANDIN_GPUS: GPUS,
        ...env,
      },
    });
    agents.push(agent);
    return agent;
  }

  const log = async () =>
    (await readFile(join(state, 'log'), 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);
  const stateOf = async (pid: number) =>
    JSON.parse(await readFile(join(state, `${pid}.json`), 'utf8')) as { state: string; devices: string[] };

  /** `pid`: the CUDA process, the workload's command (its init holds no CUDA context). */
  const cudaWorkload = async (agent: AgentProcess, name: string) => {
    const started = await startStatefulWorkload(agent, name, 4, { commandEnv: { CUDA_STANDIN_ID: name } });
    return { pid: started.commandPid, out: started.out };
  };

  before(async () => {
    const first = await startAgent();
    // The first agent only lends its folder; the CUDA agents run beside it.
    await first.stop();
    root = first.dir;
    state = join(root, 'cuda-state');
    await mkdir(state, { recursive: true });
    main = await cudaAgent('node-a');
  });
  after(async () => {
    for (const agent of agents) {
      const { workloads } = await agent.client.listWorkloads({}).catch(() => ({
        workloads: [],
      }));
      for (const w of workloads) if (w.running) process.kill(w.pid, 'SIGKILL');
      await agent.stop();
    }
    await rm(root, { recursive: true, force: true });
  });

  it('locks and checkpoints before the dump, resumes after it, and restores + unlocks after CRIU', async () => {
    const { pid, out } = await cudaWorkload(main, 'gpu-a');
    assert.equal((await main.client.getInfo({})).cudaBackend, 'tool');
    const result = await main.client.checkpoint({ target: { pod: 'gpu-a' }, checkpointId: 'gpu-a-1' });
    assert.deepEqual(result.cudaPids, [pid]);
    for (const phase of ['cudaLock', 'cudaCheckpoint', 'cudaRestore', 'cudaUnlock', 'criuDump']) {
      assert.ok((result.durationsMs[phase] ?? -1) >= 0, phase);
    }
    assert.deepEqual(await log(), [
      `${pid} lock running->locked`,
      `${pid} checkpoint locked->checkpointed`,
      `${pid} restore checkpointed->locked`,
      `${pid} unlock locked->running`,
    ]);
    const manifest = JSON.parse((await main.client.getCheckpoint({ checkpointId: 'gpu-a-1' })).manifestJson);
    assert.deepEqual(
      manifest.cuda,
      { pids: [2], gpus: GPUS.split(',') },
      'namespace pids (the command, under its init: PID 1) and GPU UUIDs are recorded',
    );
    const cudaJson = JSON.parse(await readFile(join(result.location, 'cuda.json'), 'utf8'));
    assert.equal(cudaJson.driverVersion, '580.65.06');

    await main.client.stopWorkload({ name: 'gpu-a' });
    await waitFor('gpu-a to exit', async () => !(await isRunning(pid)));
    const restored = await main.client.restore({ checkpointId: 'gpu-a-1' });
    const r = await commandPidOf(restored.restoredPid);
    assert.deepEqual((await log()).slice(4), [
      `${r} restore checkpointed->locked`,
      `${r} unlock locked->running`,
    ]);
    assert.equal((await stateOf(r)).state, 'running');
    assert.ok(
      (restored.durationsMs['cudaRestore'] ?? -1) >= 0 && (restored.durationsMs['cudaUnlock'] ?? -1) >= 0,
    );
    await waitFor('the restored counter to advance', async () => ((await readNumber(out)) ?? 0) > 0);
    process.kill(r, 'SIGKILL');
  });

  it('restores onto other GPUs with a device map, and refuses a different GPU count before touching anything', async () => {
    const { pid } = await cudaWorkload(main, 'gpu-b');
    await main.client.checkpoint({
      target: { pod: 'gpu-b' },
      checkpointId: 'gpu-b-1',
      leaveRunning: false,
    });
    await waitFor('gpu-b to stop', async () => !(await isRunning(pid)));

    const single = await cudaAgent('node-c', {
      CUDA_STANDIN_GPUS: 'GPU-cccccccc-0000-0000-0000-000000000001',
    });
    const before = (await log()).length;
    await assert.rejects(
      single.client.restore({ checkpointId: 'gpu-b-1' }),
      (err: Error & { code: string }) => {
        assert.equal(err.code, 'FAILED_PRECONDITION');
        assert.match(err.message, /2.*1|GPU/);
        return true;
      },
    );
    assert.equal((await log()).length, before, 'no CUDA step ran');
    assert.deepEqual((await single.client.listWorkloads({})).workloads, [], 'nothing was restored');

    const other = await cudaAgent('node-b', { CUDA_STANDIN_GPUS: OTHER_GPUS });
    const restored = await other.client.restore({ checkpointId: 'gpu-b-1' });
    const command = await commandPidOf(restored.restoredPid);
    assert.deepEqual((await stateOf(command)).devices, OTHER_GPUS.split(','));
    assert.equal((await stateOf(command)).state, 'running');
    process.kill(restored.restoredPid, 'SIGKILL');
  });

  for (const failing of ['lock', 'checkpoint'] as const) {
    it(`rolls every process back to running when ${failing} fails`, async () => {
      const agent = await cudaAgent(`fail-${failing}`, { CUDA_STANDIN_FAIL: failing });
      const { pid } = await cudaWorkload(agent, `fail-${failing}`);
      await assert.rejects(
        agent.client.checkpoint({ target: { pod: `fail-${failing}` }, checkpointId: `f-${failing}` }),
        (err: Error & { phase: string }) => {
          assert.equal(err.phase, failing === 'lock' ? 'cudaLock' : 'cudaCheckpoint');
          return true;
        },
      );
      assert.equal((await stateOf(pid).catch(() => ({ state: 'running' }))).state, 'running');
      assert.ok(await isRunning(pid));
      await agent.client.stopWorkload({ name: `fail-${failing}` });
    });
  }

  it('rolls back when the CRIU dump fails after the GPU was checkpointed', async () => {
    const wrapper = join(root, 'criu-fails');
    await writeFile(
      wrapper,
      '#!/bin/sh\n[ "$1" = dump ] && exec criu "$@" --no-such-option\nexec criu "$@"\n',
    );
    await chmod(wrapper, 0o755);
    const agent = await cudaAgent('fail-dump', {}, ['--criu', wrapper]);
    const { pid } = await cudaWorkload(agent, 'fail-dump');
    await assert.rejects(
      agent.client.checkpoint({ target: { pod: 'fail-dump' }, checkpointId: 'f-dump' }),
      (err: Error & { phase: string }) => {
        assert.equal(err.phase, 'criuDump');
        assert.match(err.message, /rolled back: cuda restore \d+, cuda unlock \d+/);
        return true;
      },
    );
    assert.equal((await stateOf(pid)).state, 'running');
    await agent.client.stopWorkload({ name: 'fail-dump' });
  });

  it('kills the restored tree when the CUDA restore fails, and says so', async () => {
    const { pid } = await cudaWorkload(main, 'gpu-d');
    await main.client.checkpoint({
      target: { pod: 'gpu-d' },
      checkpointId: 'gpu-d-1',
      leaveRunning: false,
    });
    await waitFor('gpu-d to stop', async () => !(await isRunning(pid)));
    const agent = await cudaAgent('fail-restore', { CUDA_STANDIN_FAIL: 'restore' });
    await assert.rejects(
      agent.client.restore({ checkpointId: 'gpu-d-1' }),
      (err: Error & { phase: string }) => {
        assert.equal(err.phase, 'cudaRestore');
        return true;
      },
    );
    const { workloads } = await agent.client.listWorkloads({});
    assert.ok(
      workloads.every((w) => !w.running),
      'no half-restored workload is left running',
    );
  });

  it('hooks bracket the CUDA phase: quiesced before the lock, woken after the unlock, the restored copy after its unlock', async () => {
    const { pid } = await cudaWorkload(main, 'gpu-hooks');
    const logFile = join(state, 'log');
    // Command hooks that write to the stand-in's own log: one sequence, in the order things happened.
    const hook = (word: string) => ({
      exec: { command: ['sh', '-c', `echo "hook ${word}" >> ${logFile}`] },
      timeoutMs: 10_000,
    });
    const seen = (await log()).length;
    await main.client.checkpoint({
      target: { pod: 'gpu-hooks' },
      checkpointId: 'gpu-hooks-1',
      hooks: { preCheckpoint: hook('pre-checkpoint'), postRestore: hook('post-restore') },
    });
    assert.deepEqual((await log()).slice(seen), [
      'hook pre-checkpoint',
      `${pid} lock running->locked`,
      `${pid} checkpoint locked->checkpointed`,
      `${pid} restore checkpointed->locked`,
      `${pid} unlock locked->running`,
      'hook post-restore',
    ]);
    await main.client.stopWorkload({ name: 'gpu-hooks' });
    await waitFor('gpu-hooks to exit', async () => !(await isRunning(pid)));
    const restored = await main.client.restore({ checkpointId: 'gpu-hooks-1' });
    const r = await commandPidOf(restored.restoredPid);
    assert.deepEqual((await log()).slice(seen + 6), [
      `${r} restore checkpointed->locked`,
      `${r} unlock locked->running`,
      'hook post-restore',
    ]);
    await main.client.stopWorkload({ name: 'gpu-hooks' });
  });
});

describe('agent: CUDA phase over the driver helper (libcuda stand-in, real CRIU)', () => {
  let root: string;
  let state: string;
  let build: DriverStandInBuild;
  const agents: AgentProcess[] = [];

  /** An agent whose helper loads the libcuda stand-in; `args` choose the backend (default: driver). */
  async function driverAgent(
    name: string,
    env: Record<string, string> = {},
    args: string[] = ['--cuda-backend', 'driver'],
  ): Promise<AgentProcess> {
    const agent = await startAgent({
      dir: join(root, name),
      node: name,
      args: [
        '--storage',
        join(root, 'shared-storage'),
        '--cuda-helper',
        build.helper,
        '--cuda-driver-lib',
        build.library,
        ...args,
      ],
      env: {
        PATH: `${fixtures}:${process.env['PATH']}`,
        CUDA_STANDIN_STATE: state,
        CUDA_STANDIN_GPUS: GPUS,
        ...env,
      },
    });
    agents.push(agent);
    return agent;
  }

  const log = async () =>
    (await readFile(join(state, 'log'), 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);
  const stateOf = async (pid: number) =>
    JSON.parse(await readFile(join(state, `${pid}.json`), 'utf8')) as { state: string; devices: string[] };
  const calls = async (fn?: string) =>
    (await driverCalls(state)).filter((c) => fn === undefined || c.fn === fn);
  const backendOf = async (agent: AgentProcess) => (await agent.client.getInfo({})).cudaBackend;
  /** The agent's "CUDA phase on/off" log line. */
  const phaseLog = (agent: AgentProcess) =>
    JSON.parse(
      agent
        .logs()
        .split('\n')
        .find((l) => l.includes('"msg":"CUDA phase o')) ?? '{}',
    ) as Record<string, unknown>;

  before(async () => {
    build = await buildDriverStandIn();
    const first = await startAgent();
    await first.stop();
    root = first.dir;
    state = join(root, 'cuda-state');
    await mkdir(state, { recursive: true });
  });
  after(async () => {
    for (const agent of agents) {
      const { workloads } = await agent.client.listWorkloads({}).catch(() => ({
        workloads: [],
      }));
      for (const w of workloads) if (w.running) process.kill(w.pid, 'SIGKILL');
      await agent.stop();
    }
    await rm(root, { recursive: true, force: true });
  });

  it('initialises CUDA once, when the agent starts, for every checkpoint and restore it makes', async () => {
    const agent = await driverAgent('node-a', { CUDA_STANDIN_INIT_DELAY_MS: '300' });
    assert.equal(await backendOf(agent), 'driver');
    assert.deepEqual(
      { backend: phaseLog(agent)['backend'], cudaVersion: phaseLog(agent)['cudaVersion'] },
      { backend: 'driver', cudaVersion: '13.0' },
    );
    const [init, ...more] = await calls('cuInit');
    assert.ok(init !== undefined && more.length === 0, 'CUDA was initialised before the first request');

    const { commandPid: pid, out } = await startStatefulWorkload(agent, 'drv-a', 4, {
      commandEnv: { CUDA_STANDIN_ID: 'drv-a' },
    });
    const result = await agent.client.checkpoint({ target: { pod: 'drv-a' }, checkpointId: 'drv-a-1' });
    assert.deepEqual(result.cudaPids, [pid]);
    assert.deepEqual(await log(), [
      `${pid} lock running->locked`,
      `${pid} checkpoint locked->checkpointed`,
      `${pid} restore checkpointed->locked`,
      `${pid} unlock locked->running`,
    ]);
    await agent.client.stopWorkload({ name: 'drv-a' });
    await waitFor('drv-a to exit', async () => !(await isRunning(pid)));
    const restoredInit = (await agent.client.restore({ checkpointId: 'drv-a-1' })).restoredPid;
    const restored = await commandPidOf(restoredInit);
    assert.equal((await stateOf(restored)).state, 'running');
    await waitFor('the restored counter to advance', async () => ((await readNumber(out)) ?? 0) > 0);

    const all = await calls();
    assert.deepEqual(
      all.filter((c) => c.fn === 'cuInit'),
      [init],
      'a checkpoint and a restore later, still the one initialisation',
    );
    assert.ok(
      all.every((c) => c.caller === init.caller),
      'one helper served the agent throughout',
    );
    assert.deepEqual(
      all.filter((c) => c.pid === restored && c.fn !== 'cuCheckpointProcessGetState').map((c) => c.fn),
      ['cuCheckpointProcessRestore', 'cuCheckpointProcessUnlock'],
    );
    process.kill(restoredInit, 'SIGKILL');
  });

  it('restores a checkpoint the tool took onto other GPUs, handing the device map to the driver', async () => {
    const tool = await driverAgent('tool-node', {}, ['--cuda-backend', 'tool']);
    assert.equal(await backendOf(tool), 'tool');
    const { commandPid: pid } = await startStatefulWorkload(tool, 'drv-b', 4, {
      commandEnv: { CUDA_STANDIN_ID: 'drv-b' },
    });
    await tool.client.checkpoint({
      target: { pod: 'drv-b' },
      checkpointId: 'drv-b-1',
      leaveRunning: false,
    });
    await waitFor('drv-b to stop', async () => !(await isRunning(pid)));

    const other = await driverAgent('node-b', { CUDA_STANDIN_GPUS: OTHER_GPUS });
    const restoredInit = (await other.client.restore({ checkpointId: 'drv-b-1' })).restoredPid;
    const restored = await commandPidOf(restoredInit);
    assert.deepEqual(await stateOf(restored), { state: 'running', devices: OTHER_GPUS.split(',') });
    const [restore] = (await calls('cuCheckpointProcessRestore')).filter((c) => c.pid === restored);
    const pairs = GPUS.split(',').map((old, i) => `${old}=${OTHER_GPUS.split(',')[i]}`);
    assert.equal(restore?.details, pairs.join(','));
    process.kill(restoredInit, 'SIGKILL');
  });

  it('rolls the workload back through the driver when the checkpoint fails, naming the driver’s error', async () => {
    const agent = await driverAgent('drv-fail', { CUDA_STANDIN_FAIL: 'checkpoint' });
    const { commandPid: pid } = await startStatefulWorkload(agent, 'drv-fail', 4, {
      commandEnv: { CUDA_STANDIN_ID: 'drv-fail' },
    });
    await assert.rejects(
      agent.client.checkpoint({ target: { pod: 'drv-fail' }, checkpointId: 'drv-fail-1' }),
      (err: Error & { phase: string }) => {
        assert.equal(err.phase, 'cudaCheckpoint');
        assert.match(err.message, /rolled back: cuda unlock \d+/);
        return true;
      },
    );
    // The client is told "internal error" (edge.ts); the agent's log keeps what the driver said.
    assert.match(
      agent.logs(),
      /cuCheckpointProcessCheckpoint on process ID \d+ failed: CUDA_ERROR_NOT_SUPPORTED/,
    );
    assert.equal((await stateOf(pid)).state, 'running');
    assert.ok(await isRunning(pid));
    await agent.client.stopWorkload({ name: 'drv-fail' });
  });

  it('auto takes the driver where the helper serves and the tool where it cannot, saying why', async () => {
    const served = await driverAgent('auto-driver', {}, ['--cuda-backend', 'auto']);
    assert.equal(await backendOf(served), 'driver');

    const noDriver = ['--cuda-driver-lib', join(root, 'no-such-libcuda.so.1')];
    const fallback = await driverAgent('auto-tool', {}, ['--cuda-backend', 'auto', ...noDriver]);
    assert.equal(await backendOf(fallback), 'tool');
    assert.equal(phaseLog(fallback)['backend'], 'tool');
    assert.match(
      String(phaseLog(fallback)['driverUnavailable']),
      /no-such-libcuda\.so\.1 could not be loaded/,
    );

    const off = await driverAgent('driver-off', {}, ['--cuda-backend', 'driver', ...noDriver]);
    assert.equal(await backendOf(off), 'off');
    assert.match(String(phaseLog(off)['reason']), /could not be loaded/);
  });

  it('its helper ends with the agent, even when the agent is killed', async () => {
    const before = new Set((await calls('cuInit')).map((c) => c.caller));
    const agent = await driverAgent('killed');
    const helper = (await calls('cuInit')).find((c) => !before.has(c.caller))!.caller;
    assert.ok(isAlive(helper));
    await agent.kill();
    await waitFor('the helper to end with the agent', async () => !(await isRunning(helper)));
  });
});
