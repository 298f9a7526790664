/**
 * A checkpoint knows its workload (real agent, real CRIU, the process runtime): the latest checkpoint a
 * pod of the workload can take is one call; older checkpoints past the ones to keep go once a newer one is
 * published, never one a restore is reading; a placeholder told to start cold needs a runtime that has them.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AgentProcess, startAgent, startStatefulWorkload } from '../helpers/agent-process.js';
import { refusedAs } from '../helpers/refused.js';

/** A restore of `id` under way on another node: that node's live lease and its reader lease of the version. */
async function plantReader(storage: string, id: string, version: string): Promise<string> {
  const instance = randomUUID();
  await writeFile(
    join(storage, 'tmp', 'other-node.lease'),
    JSON.stringify({
      owner: 'other-node',
      instance,
      boot: 'another-machine',
      pidNamespace: 'x',
      pid: 1,
      startTime: 1,
      renewedAt: new Date().toISOString(),
      ttlMs: 300_000,
    }),
  );
  const readers = join(storage, id, 'readers');
  await mkdir(readers, { recursive: true });
  const file = join(readers, `${version}--${randomUUID()}.json`);
  await writeFile(
    file,
    JSON.stringify({ owner: 'other-node', instance, version, at: new Date().toISOString() }),
  );
  return file;
}

describe('agent: workload identity, latest checkpoint, retention (real CRIU)', () => {
  let agent: AgentProcess;
  before(async () => {
    agent = await startAgent();
  });
  after(() => agent.shutdown());

  const ids = async () =>
    (await agent.client.listCheckpoints()).checkpoints.map((c) => c.checkpointId).sort();
  const manifestOf = async (id: string) =>
    JSON.parse((await agent.client.getCheckpoint({ checkpointId: id })).manifestJson) as {
      identity: {
        owner: { kind: string; name: string };
        image: string;
        arch: string;
        gpus: { count: number };
      };
    };

  it('records the workload, finds its latest compatible checkpoint, and keeps the newest two', async () => {
    await startStatefulWorkload(agent, 'web', 4);
    for (const id of ['web-1', 'web-2'])
      await agent.client.checkpoint({ target: { pod: 'web' }, checkpointId: id });
    const identity = (await manifestOf('web-1')).identity;
    assert.deepEqual(identity.owner, { kind: 'Workload', name: 'web' });
    assert.equal(identity.image, '/usr/bin/python3');
    assert.equal(identity.gpus.count, 0);
    assert.match(identity.arch, /^(amd64|arm64)$/);

    const wanted = {
      namespace: 'default',
      ownerKind: 'Workload',
      ownerName: 'web',
      image: '/usr/bin/python3',
    };
    assert.equal(
      (await agent.client.findLatestCheckpoint({ identity: wanted })).checkpoint?.checkpointId,
      'web-2',
    );
    const otherImage = await agent.client.findLatestCheckpoint({
      identity: { ...wanted, image: '/usr/bin/python4' },
    });
    assert.equal(otherImage.checkpoint, undefined);
    assert.match(
      otherImage.passedOver.join('\n'),
      /web-2: image \/usr\/bin\/python3, the pod runs \/usr\/bin\/python4/,
    );
    const gpus = await agent.client.findLatestCheckpoint({ identity: { ...wanted, gpuCount: 1 } });
    assert.equal(gpus.checkpoint, undefined, 'a pod with a GPU cannot take a checkpoint taken without one');

    // A restore on another node reads web-1 (its reader lease, as that agent writes it): retention leaves it.
    const version = (await agent.client.getCheckpoint({ checkpointId: 'web-1' })).version;
    const readerLease = await plantReader(agent.storage, 'web-1', version);
    await agent.client.checkpoint({ target: { pod: 'web' }, checkpointId: 'web-3' });
    assert.deepEqual(await ids(), ['web-1', 'web-2', 'web-3'], 'web-1 is being read: kept for now');
    await rm(readerLease);
    await agent.client.checkpoint({ target: { pod: 'web' }, checkpointId: 'web-4', keep: 3 });
    assert.deepEqual(await ids(), ['web-2', 'web-3', 'web-4'], 'the newest three, as this request asked');
    await agent.client.checkpoint({ target: { pod: 'web' }, checkpointId: 'web-5' });
    assert.deepEqual(await ids(), ['web-4', 'web-5'], 'the newest two by default');
  });

  it('checkpoints of other workloads are untouched, and the functions may name the owner', async () => {
    await startStatefulWorkload(agent, 'api', 4);
    await agent.client.checkpoint({
      target: { pod: 'api' },
      checkpointId: 'api-1',
      identity: {
        ownerKind: 'Deployment',
        ownerName: 'api',
        container: 'server',
        image: 'registry.example.com/api@sha256:ab',
        gpuCount: 0,
      },
    });
    const identity = (await manifestOf('api-1')).identity;
    assert.deepEqual(identity.owner, { kind: 'Deployment', name: 'api' });
    assert.equal(identity.image, 'registry.example.com/api@sha256:ab');
    assert.ok((await ids()).includes('web-5'), "another workload's checkpoints stay");
  });

  it('asks for an owner, and has no placeholders to start cold under the process runtime', async () => {
    await assert.rejects(
      agent.client.findLatestCheckpoint({ identity: { ownerName: '' } }),
      refusedAs('INVALID_ARGUMENT', /owner_name/),
    );
    await assert.rejects(
      agent.client.startCold({ target: { pod: 'web' }, reason: 'nothing to restore' }),
      refusedAs('FAILED_PRECONDITION', /process runtime has no placeholders/),
    );
  });
});
