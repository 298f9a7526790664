/**
 * Crash at any point: the agent is killed with SIGKILL at seeded random moments during checkpoints that
 * replace an existing one (real CRIU, real processes, the cuda-checkpoint stand-in). After each restart the
 * current checkpoint is complete and verifies, no staging is left, the workload runs and is not frozen on
 * the GPU, and the agent still knows it by name. Reproducible: SNAPBACK_CRASH_SEED picks the sequence.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { readManifest, verifyFiles } from '../../src/lib/storage/index.js';
import {
  type AgentProcess,
  python,
  stagingEntries,
  startAgent,
  workloadScript,
} from '../helpers/agent-process.js';
import { prng } from '../helpers/prng.js';
import { isRunning, readNumber, waitFor } from '../helpers/proc.js';

const TRIALS = 30;
const SEED = Number(process.env['SNAPBACK_CRASH_SEED'] ?? 20261128);
const MAX_DELAY_MS = 700;
const fixtures = new URL('../fixtures/', import.meta.url).pathname;

describe(`agent killed at random moments (${TRIALS} trials, seed ${SEED})`, () => {
  let root: string;
  let cudaState: string;
  let agent: AgentProcess;
  let pid: number;

  const start = () =>
    startAgent({
      dir: root,
      env: {
        PATH: `${fixtures}:${process.env['PATH']}`,
        CUDA_STANDIN_STATE: cudaState,
        CUDA_STANDIN_GPUS: 'GPU-crash-0',
        // The tool stand-in on PATH, whether or not this machine has a driver for the helper.
        SNAPBACK_CUDA_BACKEND: 'tool',
      },
    });
  const cudaStateOf = async (p: number) =>
    (
      JSON.parse(await readFile(join(cudaState, `${p}.json`), 'utf8').catch(() => '{"state":"running"}')) as {
        state: string;
      }
    ).state;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'snapback-crash-'));
    cudaState = join(root, 'cuda-state');
    await mkdir(cudaState);
    agent = await start();
    const out = join(root, 'crashy.counter');
    const w = await agent.client.startWorkload({
      name: 'crashy',
      command: [python, workloadScript, '48', out],
      env: { CUDA_STANDIN_ID: 'crashy' },
    });
    pid = w.pid;
    await waitFor('crashy to count', async () => ((await readNumber(out)) ?? 0) > 2, 30_000);
    await agent.client.checkpoint({ target: { pod: 'crashy' }, checkpointId: 'crash-1' });
  });
  after(async () => {
    const { workloads } = await agent.client.listWorkloads({}).catch(() => ({ workloads: [] }));
    for (const w of workloads) if (w.running) process.kill(w.pid, 'SIGKILL');
    await agent.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('loses nothing, whenever the agent dies', async (t) => {
    const random = prng(SEED);
    const frozenAtKill: number[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const delay = Math.floor(random() * MAX_DELAY_MS);
      const attempt = agent.client.checkpoint({
        target: { pod: 'crashy' },
        checkpointId: 'crash-1',
        replace: true,
      });
      attempt.catch(() => {}); // the agent dies under it
      await sleep(delay);
      await agent.kill();
      const state = await cudaStateOf(pid);
      if (state !== 'running') frozenAtKill.push(trial);

      agent = await start();
      const why = `trial ${trial} (killed after ${delay} ms, GPU state then ${state}; replay with SNAPBACK_CRASH_SEED=${SEED})`;
      assert.deepEqual(await stagingEntries(agent.storage), [], `no staging left: ${why}`);
      const info = await agent.client.getCheckpoint({ checkpointId: 'crash-1' });
      await verifyFiles(info.location, await readManifest(info.location));
      assert.equal(
        (await readdir(join(agent.storage, 'crash-1', 'versions'))).length,
        1,
        `one version: ${why}`,
      );
      assert.ok(await isRunning(pid), `the workload runs: ${why}`);
      assert.equal(await cudaStateOf(pid), 'running', `not frozen on the GPU: ${why}`);
      if (state !== 'running')
        assert.match(agent.logs(), /thawed a workload a previous agent left frozen/, why);
      const { workloads } = await agent.client.listWorkloads({});
      assert.ok(
        workloads.some((w) => w.name === 'crashy' && w.running && w.pid === pid),
        `still known by name: ${why}`,
      );
    }
    t.diagnostic(
      `the agent died with the workload suspended on the GPU in ${frozenAtKill.length} of ${TRIALS} trials`,
    );

    // The checkpoint that survived all of that restores.
    const restored = await agent.client.restore({
      checkpointId: 'crash-1',
      target: { pod: 'crashy-restored' },
    });
    assert.ok(await isRunning(restored.restoredPid));
    assert.equal(await cudaStateOf(restored.restoredPid), 'running');
  });
});
