/**
 * Memory and files are one moment. A loop rewrites a file and appends to a log it holds open, every few
 * milliseconds; each of 20 checkpoints, taken while it does, restores. CRIU checks the size of every file
 * a process holds open, so a filesystem captured after the tree ran on (as snapback once did) fails the
 * restore with "File … has bad size"; the container's files are captured while CRIU still holds the tree
 * frozen, so they never can.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { containerdMissing } from '../../helpers/containerd.js';
import { type ContainerdSuite, counterIn, startContainerdSuite } from '../../helpers/containerd-suite.js';
import { waitFor } from '../../helpers/proc.js';

const missing = containerdMissing();
const ROUNDS = 20;
const BUSY_WRITER = [
  'sh',
  '-c',
  's=$$-$RANDOM; i=0; mkdir -p /data; exec 3>>/data/log; while true; do i=$((i+1)); echo "$i $s" > /data/counter; echo "$i" >&3; sleep 0.01; done',
];

describe('a file rewritten during checkpoints never breaks a restore (real containerd, runc, CRIU)', {
  skip: missing,
}, () => {
  let suite: ContainerdSuite;
  before(async () => {
    suite = await startContainerdSuite();
  });
  after(() => suite?.stop());

  it(`${ROUNDS} checkpoints of a busy writer all restore, each with its memory`, async () => {
    const { ctd, agent } = suite;
    const src = await ctd.run('busy', BUSY_WRITER);
    await waitFor('the writer to write', () => counterIn(src));
    for (let round = 0; round < ROUNDS; round++) {
      await agent.client.checkpoint({ target: { pod: 'busy' }, checkpointId: 'busy', replace: true });
      const name = `busy-${round}`;
      await ctd.run(name, ['sleep', '1000000']);
      const restored = await agent.client
        .restore({ checkpointId: 'busy', target: { pod: name } })
        .catch((err: Error) => assert.fail(`round ${round}: ${err.message}`));
      const first = await waitFor(`round ${round}: the copy to write`, () => counterIn(restored.restoredPid));
      // The writer truncates its counter before it writes it again: a read may find it empty; wait it out.
      const source = await waitFor(`round ${round}: the source's counter`, () => counterIn(src));
      assert.equal(first.secret, source.secret, `round ${round}: the copy holds the writer's memory`);
      await ctd.remove(name);
    }
  });
});
