/**
 * The agent end to end over real gRPC on loopback, with real CRIU and real processes: a workload's
 * memory and counter survive checkpoint and restore, under the same or a new name, beside the original.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RestoreCallResult } from '../../src/agent/client.js';
import {
  type AgentProcess,
  resetCounter,
  stagingEntries,
  startAgent,
  startStatefulWorkload,
  workloadHash,
} from '../helpers/agent-process.js';
import { isRunning, readNumber, waitFor } from '../helpers/proc.js';

describe('agent: checkpoint and restore (real CRIU)', () => {
  let agent: AgentProcess;

  before(async () => {
    agent = await startAgent();
  });
  after(() => agent.shutdown());

  async function startWorkload(name: string, mib = 16): Promise<{ out: string; pid: number }> {
    return startStatefulWorkload(agent, name, mib, { minCount: 5 });
  }

  /** The first counter value the restored process writes: a fresh start would write 1. */
  async function firstValueAfter(out: string, action: () => Promise<unknown>): Promise<number> {
    await resetCounter(out);
    await action();
    return waitFor(
      'the restored counter',
      async () => ((await readNumber(out)) ?? 0) > 0 && readNumber(out),
      20_000,
    );
  }

  it('checkpoints leaving the workload running, then restores it with its memory after it died', async () => {
    const { out, pid } = await startWorkload('alpha');
    const hash = await workloadHash(out);
    const progress: string[] = [];
    const result = await agent.client.checkpoint(
      { target: { pod: 'alpha' }, checkpointId: 'alpha-1' },
      { onProgress: (p) => progress.push(`${p.phase}:${p.state}`) },
    );
    assert.equal(result.checkpointId, 'alpha-1');
    assert.equal(result.reused, false);
    assert.ok(
      Number(result.sizeBytes) > 16 * 1024 * 1024,
      `image of ${result.sizeBytes} bytes holds the 16 MiB`,
    );
    for (const phase of ['inspect', 'configure', 'criuDump', 'manifest', 'promote', 'total']) {
      assert.ok((result.durationsMs[phase] ?? -1) >= 0, `duration of ${phase}`);
    }
    assert.ok(
      progress.includes('criuDump:STARTED') && progress.includes('promote:FINISHED'),
      progress.join(' '),
    );
    assert.ok(await isRunning(pid), 'the workload keeps running after a checkpoint');

    const beforeStop = (await readNumber(out))!;
    await agent.client.stopWorkload({ name: 'alpha' });
    await waitFor('alpha to die', async () => !(await isRunning(pid)));
    const lastSeen = Math.max(beforeStop, (await readNumber(out)) ?? 0);

    let restored: RestoreCallResult | undefined;
    const first = await firstValueAfter(out, async () => {
      restored = await agent.client.restore({ checkpointId: 'alpha-1' });
    });
    assert.ok(
      first > 5 && first <= lastSeen + 1,
      `counter resumed at ${first} (was ${lastSeen} when it died)`,
    );
    assert.equal(restored!.workload, 'alpha');
    assert.equal(restored!.namespacePid, 1, 'the workload is init of its own PID namespace');
    assert.ok(await isRunning(restored!.restoredPid));
    for (const phase of ['verify', 'criuRestore', 'confirm', 'total'])
      assert.ok((restored!.durationsMs[phase] ?? -1) >= 0, phase);
    assert.equal(await workloadHash(out), hash, 'the data in memory is unchanged');
  });

  it('restores a second copy beside the original, which keeps running', async () => {
    const { out, pid } = await startWorkload('beta');
    const hash = await workloadHash(out);
    await agent.client.checkpoint({ target: { pod: 'beta' }, checkpointId: 'beta-1' });
    const copy = await agent.client.restore({ checkpointId: 'beta-1', target: { pod: 'beta-copy' } });
    assert.equal(copy.workload, 'beta-copy');
    assert.notEqual(copy.restoredPid, pid);
    assert.ok(await isRunning(pid), 'original still running');
    assert.ok(await isRunning(copy.restoredPid), 'copy running');
    // Both write the same counter file; either answers with the same data.
    assert.equal(await workloadHash(out), hash);
    const { workloads } = await agent.client.listWorkloads({});
    const names = workloads.filter((w) => w.running).map((w) => w.name);
    assert.ok(names.includes('beta') && names.includes('beta-copy'), names.join(','));
    const copyRecord = workloads.find((w) => w.name === 'beta-copy')!;
    assert.equal(copyRecord.restoredFrom, 'beta-1');
  });

  it('stops the workload after a checkpoint when asked, and it comes back', async () => {
    const { out, pid } = await startWorkload('gamma');
    await agent.client.checkpoint({
      target: { pod: 'gamma' },
      checkpointId: 'gamma-1',
      leaveRunning: false,
    });
    await waitFor('gamma to be stopped', async () => !(await isRunning(pid)));
    const lastSeen = (await readNumber(out))!;
    const first = await firstValueAfter(out, () => agent.client.restore({ checkpointId: 'gamma-1' }));
    assert.ok(first > 5 && first <= lastSeen + 1, `resumed at ${first}, stopped at ${lastSeen}`);
  });

  it('returns a finished checkpoint again without dumping, and replaces it only when asked', async () => {
    const { pid } = await startWorkload('delta');
    const first = await agent.client.checkpoint({ target: { pod: 'delta' }, checkpointId: 'delta-1' });
    const again = await agent.client.checkpoint({ target: { pod: 'delta' }, checkpointId: 'delta-1' });
    assert.equal(again.reused, true);
    assert.equal(again.version, first.version);
    const replaced = await agent.client.checkpoint({
      target: { pod: 'delta' },
      checkpointId: 'delta-1',
      replace: true,
    });
    assert.equal(replaced.reused, false);
    assert.notEqual(replaced.version, first.version);
    const info = await agent.client.getCheckpoint({ checkpointId: 'delta-1' });
    assert.equal(info.version, replaced.version);
    await assert.rejects(readFile(join(first.location, 'manifest.json')), 'the replaced version is removed');
    assert.ok(await isRunning(pid));
    assert.deepEqual(await stagingEntries(agent.storage), []);
  });

  it('lists, shows and deletes checkpoints', async () => {
    const { checkpoints } = await agent.client.listCheckpoints({});
    const ids = checkpoints.map((c) => c.checkpointId);
    assert.ok(ids.includes('alpha-1') && ids.includes('beta-1'), ids.join(','));
    const manifest = JSON.parse((await agent.client.getCheckpoint({ checkpointId: 'alpha-1' })).manifestJson);
    assert.equal(manifest.schemaVersion, 1);
    assert.equal(manifest.target.pod, 'alpha');
    assert.ok(manifest.files.some((f: { path: string }) => f.path.startsWith('criu/pages-')));
    assert.deepEqual(await agent.client.deleteCheckpoint({ checkpointId: 'gamma-1' }), {
      deleted: true,
    });
    await assert.rejects(agent.client.getCheckpoint({ checkpointId: 'gamma-1' }), {
      code: 'NOT_FOUND',
    });
  });
});
