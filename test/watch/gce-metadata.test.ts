/**
 * The watcher on GCE, against a loopback stand-in for the metadata server
 * (test/helpers/metadata/gce-metadata.ts): `Metadata-Flavor: Google` both ways, hanging GETs with
 * `wait_for_change` and `last_etag`; preemption and terminating host maintenance sent once each, a VM
 * preempted again after a restart sent again, live migration not at all.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { type FakeGceMetadata, startFakeGceMetadata } from '../helpers/metadata/gce-metadata.js';
import {
  deadEndpoint,
  type NoticeSink,
  newStateDir,
  type RunningWatcher,
  removeDir,
  startNoticeSink,
  startWatcher,
  waitFor,
} from '../helpers/watch-env.js';

describe('snapback watch on GCE (metadata server stand-in)', () => {
  let gce: FakeGceMetadata;
  let sink: NoticeSink;
  let dead: string;
  let stateDir: string;
  let watcher: RunningWatcher | undefined;

  before(async () => {
    [gce, sink, dead] = await Promise.all([startFakeGceMetadata(), startNoticeSink(), deadEndpoint()]);
  });
  after(async () => {
    await Promise.all([gce.close(), sink.close()]);
  });
  beforeEach(async () => {
    stateDir = await newStateDir();
    sink.received.length = 0;
    gce.set('instance/preempted', 'FALSE');
    gce.set('instance/maintenance-event', 'NONE');
  });
  afterEach(async () => {
    await watcher?.stop();
    watcher = undefined;
    await removeDir(stateDir);
  });

  const run = async () => {
    watcher = startWatcher({ sink: sink.url, stateDir, endpoints: { aws: dead, gce: gce.url, azure: dead } });
    await waitFor('both hanging GETs', () => gce.hanging() === 2);
  };

  it('the stand-in follows the contract: 403 without Metadata-Flavor, an ETag, a GET that hangs until a change', async () => {
    assert.equal((await fetch(`${gce.url}/computeMetadata/v1/instance/preempted`)).status, 403);
    const headers = { 'Metadata-Flavor': 'Google' };
    const now = await fetch(`${gce.url}/computeMetadata/v1/instance/preempted`, { headers });
    assert.equal(now.headers.get('metadata-flavor'), 'Google');
    const etag = now.headers.get('etag')!;
    const hanging = fetch(
      `${gce.url}/computeMetadata/v1/instance/preempted?wait_for_change=true&last_etag=${etag}&timeout_sec=30`,
      { headers },
    );
    await waitFor('the hanging GET', () => gce.hanging() === 1);
    gce.set('instance/preempted', 'TRUE');
    const changed = await hanging;
    assert.equal(await changed.text(), 'TRUE');
    assert.notEqual(changed.headers.get('etag'), etag);
  });

  it('preempted TRUE arrives on the hanging GET and is sent once, 30 s deadline; restart sends nothing', async () => {
    await run();
    assert.equal(sink.received.length, 0);
    const requests = gce.requests.length;
    const before = Date.now();
    gce.set('instance/preempted', 'TRUE');
    await waitFor('the notice', () => sink.received.length === 1);
    const data = sink.received[0]!.data;
    assert.equal(data.node, 'node-a');
    assert.equal(data.urgency, 'imminent');
    const deadline = Date.parse(data.deadline!);
    assert.ok(deadline >= before + 30_000 && deadline <= Date.now() + 30_000, data.deadline);
    await waitFor('hanging again', () => gce.hanging() === 2);
    assert.ok(gce.requests.length - requests <= 2, 'the change came on the hanging GET, no polling');
    assert.ok(gce.requests.slice(requests).every((r) => r.includes('wait_for_change=true')));

    await watcher!.stop();
    await run();
    assert.equal(
      sink.received.length,
      1,
      'a restarted watcher sees the same TRUE (same ETag) and remembers it',
    );
  });

  it('a VM preempted, restarted (FALSE) and preempted again is noticed twice', async () => {
    await run();
    gce.set('instance/preempted', 'TRUE');
    await waitFor('the first notice', () => sink.received.length === 1);
    gce.set('instance/preempted', 'FALSE');
    await waitFor('hanging on FALSE', () => gce.hanging() === 2);
    gce.set('instance/preempted', 'TRUE');
    await waitFor('the second notice', () => sink.received.length === 2);
  });

  it('TERMINATE_ON_HOST_MAINTENANCE is a notice (60 s); MIGRATE_ON_HOST_MAINTENANCE is not', async () => {
    await run();
    gce.set('instance/maintenance-event', 'MIGRATE_ON_HOST_MAINTENANCE');
    await waitFor(
      'hanging after the migration notice',
      () => gce.requests.filter((r) => r.includes('maintenance-event')).length >= 2 && gce.hanging() === 2,
    );
    assert.equal(sink.received.length, 0);
    const before = Date.now();
    gce.set('instance/maintenance-event', 'TERMINATE_ON_HOST_MAINTENANCE');
    await waitFor('the maintenance notice', () => sink.received.length === 1);
    const deadline = Date.parse(sink.received[0]!.data.deadline!);
    assert.ok(deadline >= before + 60_000 && deadline <= Date.now() + 60_000);
    assert.match(sink.received[0]!.data.reason!, /TERMINATE_ON_HOST_MAINTENANCE/);
  });
});
