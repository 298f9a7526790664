/**
 * snapback-init as a placeholder's PID 1, with real containerd, runc and CRIU: a restored workload that
 * ends by itself ends the container with its exit code; with nothing to restore the container's own
 * command runs (when the wait expires, or at once when told to start cold); a restore that fails after
 * touching the placeholder kills it, and the restarted container starts cold.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { snapbackInitOf } from '../../../src/lib/containerd/index.js';
import { containerdMissing } from '../../helpers/containerd.js';
import { type ContainerdSuite, startContainerdSuite } from '../../helpers/containerd-suite.js';
import { waitFor } from '../../helpers/proc.js';
import { refusedAs } from '../../helpers/refused.js';

const missing = containerdMissing();
const COLD = ['sh', '-c', 'echo cold > /tmp/cold; exec sleep 1000000'];

describe('snapback-init, the placeholder PID 1 (real containerd, runc, CRIU)', { skip: missing }, () => {
  let suite: ContainerdSuite;
  before(async () => {
    suite = await startContainerdSuite();
  });
  after(() => suite?.stop());

  const stateOf = (mounts: { source: string }[]) =>
    readFile(join(mounts[0]!.source, 'state'), 'utf8').then(
      (t) => t.trim(),
      () => '',
    );

  it('a restored workload that ends by itself ends the container with its exit code', async () => {
    const { ctd, agent } = suite;
    await ctd.run('ends-src', [
      'sh',
      '-c',
      'mkdir -p /data; while [ ! -e /data/stop ]; do sleep 0.1; done; exit 3',
    ]);
    await agent.client.checkpoint({ target: { pod: 'ends-src' }, checkpointId: 'ends' });
    await ctd.ctr('task', 'kill', '-s', 'SIGKILL', 'ends-src');
    await ctd.exitCode('ends-src');
    const mounts = await suite.initMounts('ends-ph');
    await ctd.run('ends-ph', suite.initCommand(COLD), { mounts });
    await waitFor('the init to wait', async () => (await stateOf(mounts)) === 'waiting');
    const restored = await agent.client.restore({ checkpointId: 'ends', target: { pod: 'ends-ph' } });
    await waitFor('the init to adopt it', async () => (await stateOf(mounts)).startsWith('restored'));
    await writeFile(`/proc/${restored.restoredPid}/root/data/stop`, '');
    assert.equal(await ctd.exitCode('ends-ph'), 3);
  });

  it('with nothing to restore, the container command runs when the wait expires, or at once when told', async () => {
    const { ctd } = suite;
    const waited = await suite.initMounts('cold-wait');
    const pid = await ctd.run('cold-wait', suite.initCommand(COLD, 1), { mounts: waited });
    await waitFor(
      'the command to run after the wait',
      async () => (await readFile(`/proc/${pid}/root/tmp/cold`, 'utf8').catch(() => '')) === 'cold\n',
    );
    assert.equal(await stateOf(waited), 'cold no restore within the wait');

    const told = await suite.initMounts('cold-told');
    const toldPid = await ctd.run('cold-told', suite.initCommand(COLD), { mounts: told });
    await waitFor('the init to wait', async () => (await stateOf(told)) === 'waiting');
    const init = await snapbackInitOf(toldPid);
    assert.ok(init, 'the agent recognises snapback-init as the placeholder PID 1');
    assert.equal((await init.state()).kind, 'waiting');
    // As the restore function does when no checkpoint fits the pod: through the agent of its node.
    await suite.agent.client.startCold({ target: { pod: 'cold-told' }, reason: 'no compatible checkpoint' });
    await waitFor(
      'the command to run at once',
      async () => (await readFile(`/proc/${toldPid}/root/tmp/cold`, 'utf8').catch(() => '')) === 'cold\n',
    );
    assert.equal(await stateOf(told), 'cold no compatible checkpoint');
    await assert.rejects(
      suite.agent.client.startCold({ target: { pod: 'cold-told' }, reason: 'again' }),
      refusedAs('FAILED_PRECONDITION', /runs no snapback-init|not waiting/),
    );
  });

  it('a restore that fails after touching the placeholder kills it; the restarted container starts cold', async () => {
    const { ctd, agent } = suite;
    await ctd.run('fail-src', ['sh', '-c', 'mkdir -p /data; echo x > /data/x; exec sleep 1000000']);
    await agent.client.checkpoint({ target: { pod: 'fail-src' }, checkpointId: 'fails' });
    const mounts = await suite.initMounts('fail-ph');
    // A read-only root filesystem: applying the checkpoint's files to it fails.
    await ctd.ctr(
      'run',
      '-d',
      '--read-only',
      '--label',
      'snapback.io/enabled=true',
      ...mounts.flatMap((m) => [
        '--mount',
        `type=bind,src=${m.source},dst=${m.destination},options=rbind:rw`,
      ]),
      'snapback.test/busybox:1',
      'fail-ph',
      ...suite.initCommand(['sh', '-c', 'echo cold > /snapback/started-cold; exec sleep 1000000']),
    );
    await waitFor('the init to wait', async () => (await stateOf(mounts)) === 'waiting');
    await assert.rejects(
      agent.client.restore({ checkpointId: 'fails', target: { pod: 'fail-ph' } }),
      refusedAs('INTERNAL', /internal error during rootfs/),
    );
    await ctd.exitCode('fail-ph');
    // The kubelet starts the container again in the same pod (its emptyDir kept): it starts cold at once.
    await ctd.remove('fail-ph');
    await ctd.run(
      'fail-ph2',
      suite.initCommand(['sh', '-c', 'echo cold > /snapback/restarted-cold; exec sleep 1000000']),
      {
        mounts,
      },
    );
    await waitFor(
      'the restarted container to start cold',
      async () =>
        (await readFile(join(mounts[0]!.source, 'restarted-cold'), 'utf8').catch(() => '')) === 'cold\n',
    );
    // Either the first container acted on the decision before it was killed, or the restarted one did.
    assert.match(await stateOf(mounts), /^cold (restore failed|restarted)/);
  });
});
