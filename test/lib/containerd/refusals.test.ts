/**
 * What the containerd runtime refuses, clearly and before touching anything (real containerd, runc,
 * CRIU): missing or stopped targets, a placeholder of another image or without the checkpointed
 * container's volumes, a placeholder whose snapback-init already started, a container that did not opt in,
 * a wrong containerd namespace; and containerd going down loses no checkpoint.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { createContainerdClient, createContainerdRuntime } from '../../../src/lib/containerd/index.js';
import { runTool } from '../../../src/lib/tools/index.js';
import { containerdMissing, OTHER_IMAGE } from '../../helpers/containerd.js';
import { type ContainerdSuite, startContainerdSuite } from '../../helpers/containerd-suite.js';
import { isRunning, waitFor } from '../../helpers/proc.js';
import { refusedAs } from '../../helpers/refused.js';

const missing = containerdMissing();
const SLEEP = ['sleep', '1000000'];

describe('containerd runtime: refusals that lose nothing (real containerd, runc, CRIU)', {
  skip: missing,
}, () => {
  let suite: ContainerdSuite;
  before(async () => {
    suite = await startContainerdSuite();
    const cache = await suite.emptyDir('source', '/cache');
    await suite.ctd.run('source', ['sh', '-c', 'echo kept > /cache/kept; exec sleep 1000000'], {
      mounts: [cache],
    });
    await suite.agent.client.checkpoint({ target: { pod: 'source' }, checkpointId: 'source' });
  });
  after(() => suite?.stop());

  it('names a missing target, a missing container id, a gone or stopped placeholder', async () => {
    const { ctd, agent } = suite;
    await assert.rejects(
      agent.client.checkpoint({ target: { pod: 'no-such-container' }, checkpointId: 'x' }),
      refusedAs('NOT_FOUND', new RegExp(`no container for .*no-such-container.* namespace ${ctd.namespace}`)),
    );
    await assert.rejects(
      agent.client.checkpoint({ target: { pod: 'p', containerId: 'nope' }, checkpointId: 'x' }),
      refusedAs('NOT_FOUND', /container nope not found/),
    );
    await assert.rejects(
      agent.client.restore({ checkpointId: 'source', target: { pod: 'gone' } }),
      refusedAs('NOT_FOUND', /no container for default\/gone/),
    );
    const stopped = await ctd.run('stopped', SLEEP);
    await ctd.ctr('task', 'kill', '-s', 'SIGKILL', 'stopped');
    await waitFor('it to stop', async () => !(await isRunning(stopped)));
    await assert.rejects(
      agent.client.restore({ checkpointId: 'source', target: { pod: 'stopped' } }),
      refusedAs('FAILED_PRECONDITION', /not running/),
    );
  });

  it('refuses a placeholder of another image, or without the volumes, before touching it', async () => {
    const { ctd, agent } = suite;
    const cache = await suite.emptyDir('other', '/cache');
    const other = await ctd.run('other', SLEEP, { image: OTHER_IMAGE, mounts: [cache] });
    await assert.rejects(
      agent.client.restore({ checkpointId: 'source', target: { pod: 'other' } }),
      refusedAs(
        'FAILED_PRECONDITION',
        /runs image snapback.test\/busybox:other, but checkpoint source was taken from/,
      ),
    );
    const bare = await ctd.run('bare', SLEEP);
    await assert.rejects(
      agent.client.restore({ checkpointId: 'source', target: { pod: 'bare' } }),
      refusedAs(
        'FAILED_PRECONDITION',
        /placeholder bare lacks mounts the checkpointed container had: \/cache/,
      ),
    );
    for (const pid of [other, bare])
      assert.ok(await isRunning(pid), 'a refused placeholder is left as it was');
  });

  it('refuses a placeholder whose snapback-init has started, and a waiting one as a checkpoint target', async () => {
    const { ctd, agent } = suite;
    const waiting = await suite.initMounts('waiting', ['/cache']);
    const pid = await ctd.run('waiting', suite.initCommand(SLEEP), { mounts: waiting });
    await waitFor('the init to wait', async () =>
      readFile(`${waiting[0]!.source}/state`, 'utf8').then(
        (t) => t.startsWith('waiting'),
        () => false,
      ),
    );
    await assert.rejects(
      agent.client.checkpoint({ target: { pod: 'waiting' }, checkpointId: 'waiting' }),
      refusedAs('FAILED_PRECONDITION', /placeholder whose snapback-init is still waiting for a restore/),
    );
    const cold = await suite.initMounts('cold', ['/cache']);
    const coldPid = await ctd.run('cold', suite.initCommand(SLEEP, 0), { mounts: cold });
    await waitFor('the init to start cold', async () =>
      readFile(`/proc/${coldPid}/cmdline`, 'utf8').then(
        (t) => t.startsWith('sleep'),
        () => false,
      ),
    );
    await assert.rejects(
      agent.client.restore({ checkpointId: 'source', target: { pod: 'cold' } }),
      refusedAs(
        'FAILED_PRECONDITION',
        /placeholder cold's snapback-init is not waiting for a restore \(cold: no restore within the wait\)/,
      ),
    );
    assert.ok(await isRunning(pid));
  });

  it('refuses a container that did not opt in (label snapback.io/enabled: "true"), dumping nothing', async () => {
    const { ctd, agent } = suite;
    const pid = await ctd.run('shy', SLEEP, { labels: { app: 'shy' } });
    await assert.rejects(
      agent.client.checkpoint({ target: { pod: 'shy' }, checkpointId: 'shy' }),
      refusedAs(
        'FAILED_PRECONDITION',
        /container shy has not opted in: it needs the label snapback\.io\/enabled: "true" \(rule: opt-in\)/,
      ),
    );
    assert.ok(await isRunning(pid));
    await assert.rejects(agent.client.getCheckpoint({ checkpointId: 'shy' }), {
      code: 'NOT_FOUND',
    });
  });

  it('names a wrong containerd namespace', async () => {
    const client = createContainerdClient({ socket: suite.ctd.socket, namespace: 'not-there' });
    try {
      const runtime = createContainerdRuntime({ client, run: runTool });
      await assert.rejects(
        runtime.inspect({ namespace: 'default', pod: 'x', containerId: 'source' }),
        refusedAs('NOT_FOUND', /container source not found in containerd namespace not-there/),
      );
    } finally {
      client.close();
    }
  });

  it('says containerd is down, and keeps the previous checkpoint', async () => {
    const { ctd, agent } = suite;
    const before3 = await agent.client.checkpoint({ target: { pod: 'source' }, checkpointId: 'source' });
    await ctd.killDaemon();
    try {
      await assert.rejects(
        agent.client.checkpoint({ target: { pod: 'source' }, checkpointId: 'source', replace: true }),
        refusedAs('UNAVAILABLE', /containerd is not reachable at .*containerd.sock/),
      );
    } finally {
      await ctd.startDaemon();
    }
    const still = await agent.client.checkpoint({ target: { pod: 'source' }, checkpointId: 'source' });
    assert.equal(still.reused, true);
    assert.equal(still.version, before3.version, 'the previous checkpoint is intact');
  });
});
