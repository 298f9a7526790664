/**
 * Many nodes, one volume, with real agents (the CLI as users run it) and real CRIU: three agents, each with
 * its own node name and state folder, share one checkpoint storage, as the DaemonSet does on a cluster.
 * - The same id checkpointed from two agents at once: one wins, the other is told so, the winner restores.
 * - 30 seeded trials: while agent A checkpoints (replacing the ids it wrote before), agent B is started,
 *   restarted, SIGKILLed, or restores one of A's checkpoints and is killed under it, at random moments;
 *   agent C restores from the checkpoint A is replacing. Every checkpoint A reports written restores with
 *   its memory intact, no failure is reported as a success, and nothing A stages is swept.
 * Reproducible: SNAPBACK_SHARED_SEED picks the sequence.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SnapbackError } from '../../src/errors.js';
import {
  type AgentProcess,
  startAgent,
  startStatefulWorkload,
  workloadHash,
} from '../helpers/agent-process.js';
import { prng } from '../helpers/prng.js';
import { isRunning, killProcessesMentioning, killTree } from '../helpers/proc.js';

const TRIALS = 30;
const SEED = Number(process.env['SNAPBACK_SHARED_SEED'] ?? 20261130);
const MAX_DELAY_MS = 600;
const IDS = ['shared-0', 'shared-1', 'shared-2'];

/** A failure with what the agent logged about it (the incident line carries the cause). */
function explain(name: string, agent: AgentProcess, err: unknown, why: string): string {
  const error = SnapbackError.from(err);
  const incident = /incident ([0-9a-f]+)/.exec(error.message)?.[1];
  const logged =
    incident === undefined
      ? ''
      : agent
          .logs()
          .split('\n')
          .find((line) => line.includes(incident));
  return `${name} failed: ${error.message}; ${why}${logged ? `\n${name}'s log: ${logged.slice(0, 4000)}` : ''}`;
}

describe('agents sharing one checkpoint storage (real agents, real CRIU)', () => {
  let root: string;
  let storage: string;
  let a: AgentProcess;
  let b: AgentProcess | undefined;
  let c: AgentProcess;
  /** Every pid a restore brought back, killed at the end whoever restored it. */
  const restored: number[] = [];
  const agentOn = (node: string) => startAgent({ dir: join(root, node), node, storage });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'snapback-shared-'));
    storage = join(root, 'shared');
    a = await agentOn('node-a');
    c = await agentOn('node-c');
  });
  after(async () => {
    for (const pid of restored) killTree(pid);
    for (const agent of [a, b, c]) {
      if (agent === undefined) continue;
      const { workloads } = await agent.client.listWorkloads({}).catch(() => ({
        workloads: [],
      }));
      for (const w of workloads) if (w.running) killTree(w.pid);
      await agent.stop().catch(() => {});
    }
    // Restored copies write where their source did, below root: none may outlive the suite.
    await killProcessesMentioning(root);
    await rm(root, { recursive: true, force: true, maxRetries: 5 });
  });

  it('the same id from two agents at once: one wins, the other is told so, and the winner restores', async () => {
    b = await agentOn('node-b');
    const wa = await startStatefulWorkload(a, 'contender-a', 8);
    const wb = await startStatefulWorkload(b, 'contender-b', 8);
    const hashes = { 'node-a': await workloadHash(wa.out), 'node-b': await workloadHash(wb.out) };
    const outcomes = await Promise.allSettled([
      a.client.checkpoint({ target: { pod: 'contender-a' }, checkpointId: 'contested' }),
      b.client.checkpoint({ target: { pod: 'contender-b' }, checkpointId: 'contested' }),
    ]);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o) => o.status === 'rejected');
    assert.equal(won.length, 1, JSON.stringify(outcomes.map((o) => o.status)));
    const error = (lost[0] as PromiseRejectedResult).reason;
    assert.ok(error instanceof SnapbackError, String(error));
    assert.equal(error.code, 'ALREADY_EXISTS', error.message);
    const winner = (won[0] as PromiseFulfilledResult<{ node: string }>).value.node as 'node-a' | 'node-b';
    const out = winner === 'node-a' ? wa.out : wb.out;
    const restoredCopy = await c.client.restore({
      checkpointId: 'contested',
      target: { pod: 'contested-copy' },
    });
    restored.push(restoredCopy.restoredPid);
    // The copy shares the original's out file (same image): its answer is the winner's data.
    killTree(winner === 'node-a' ? wa.pid : wb.pid);
    assert.equal(await workloadHash(out), hashes[winner], "the restored copy holds the winner's memory");
    killTree(restoredCopy.restoredPid);
    killTree(winner === 'node-a' ? wb.pid : wa.pid);
  });

  it(`loses nothing while another agent starts, restarts and dies at random moments (${TRIALS} trials)`, async (t) => {
    const random = prng(SEED);
    const source = await startStatefulWorkload(a, 'source', 16);
    const sourceHash = await workloadHash(source.out);
    const written = new Set<string>();
    const actions: Record<string, number> = {};
    for (let trial = 0; trial < TRIALS; trial++) {
      const id = IDS[trial % IDS.length]!;
      const delay = Math.floor(random() * MAX_DELAY_MS);
      const action = (['start', 'restart', 'kill', 'restore-then-kill'] as const)[Math.floor(random() * 4)]!;
      actions[action] = (actions[action] ?? 0) + 1;
      const why = `trial ${trial}: ${action} after ${delay} ms (replay with SNAPBACK_SHARED_SEED=${SEED})`;
      const checkpoint = a.client.checkpoint({
        target: { pod: 'source' },
        checkpointId: id,
        replace: true,
        // All three ids are the same workload's: retention (2 by default) would delete the oldest.
        keep: IDS.length,
      });
      // C restores a checkpoint A may be replacing at this very moment.
      const readable = [...written].filter((w) => w !== id);
      const cRestore =
        readable.length > 0
          ? c.client.restore({
              checkpointId: readable[Math.floor(random() * readable.length)]!,
              target: { pod: `c-${trial}` },
            })
          : undefined;
      await sleep(delay);
      if (action === 'start' && b === undefined) b = await agentOn('node-b');
      else if (action === 'restart' || action === 'start') {
        await b?.stop();
        b = await agentOn('node-b');
      } else if (action === 'kill') {
        await b?.kill();
        b = undefined;
      } else {
        b ??= await agentOn('node-b');
        const target = [...written][0];
        const bRestore =
          target === undefined
            ? undefined
            : b.client.restore({ checkpointId: target, target: { pod: `b-${trial}` } });
        bRestore?.catch(() => {});
        await sleep(Math.floor(random() * 300));
        await b.kill();
        b = undefined;
      }
      const result = await checkpoint.catch((err: unknown) => assert.fail(explain('A', a, err, why)));
      assert.equal(result.checkpointId, id, why);
      written.add(id);
      if (cRestore !== undefined) {
        const copy = await cRestore.catch((err: unknown) => assert.fail(explain('C', c, err, why)));
        restored.push(copy.restoredPid);
        assert.ok(await isRunning(copy.restoredPid), `C's restore runs: ${why}`);
        killTree(copy.restoredPid);
      }
      // Every checkpoint reported written restores with its memory: a copy beside the source answers
      // the hash request on the shared out file with the same data.
      const copy = await c.client
        .restore({ checkpointId: id, target: { pod: `v-${trial}` } })
        .catch((err: unknown) => assert.fail(explain('C', c, err, why)));
      restored.push(copy.restoredPid);
      assert.ok(await isRunning(copy.restoredPid), `the checkpoint restores: ${why}`);
      killTree(copy.restoredPid);
    }
    t.diagnostic(`actions: ${JSON.stringify(actions)}`);
    // B comes back once more: it recovers what its killed restores left (the journal kills unconfirmed trees).
    b ??= await agentOn('node-b');
    // The data of the last checkpoint of each id, checked byte for byte by the restored process itself.
    for (const id of IDS) {
      const copy = await c.client.restore({ checkpointId: id, target: { pod: `final-${id}` } });
      restored.push(copy.restoredPid);
      killTree(source.pid);
      assert.equal(await workloadHash(source.out), sourceHash, `${id} restores with its memory intact`);
      killTree(copy.restoredPid);
    }
  });
});
