/**
 * The watcher on AWS, against a loopback stand-in for IMDSv2 (test/helpers/metadata/aws-imds.ts): token
 * first, 401 without one, 404 until a notice exists; each notice sent once to the sink, for this node,
 * across polls and across restarts; an expired token renewed; a sink that is down retried.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { SENT_NOTICES_FILE } from '../../src/watch/sent-notices.js';
import { type FakeImds, startFakeImds } from '../helpers/metadata/aws-imds.js';
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

const SPOT = 'GET /latest/meta-data/spot/instance-action';

describe('snapback watch on AWS (IMDSv2 stand-in)', () => {
  let imds: FakeImds;
  let sink: NoticeSink;
  let dead: string;
  let stateDir: string;
  let watcher: RunningWatcher | undefined;

  before(async () => {
    [imds, sink, dead] = await Promise.all([
      startFakeImds('i-0aaaaaaaaaaaaaaaa'),
      startNoticeSink(),
      deadEndpoint(),
    ]);
  });
  after(async () => {
    await Promise.all([imds.close(), sink.close()]);
  });
  beforeEach(async () => {
    stateDir = await newStateDir();
    sink.received.length = 0;
    imds.spotAction = undefined;
    imds.rebalance = undefined;
    imds.lifecycleState = undefined;
  });
  afterEach(async () => {
    await watcher?.stop();
    watcher = undefined;
    await removeDir(stateDir);
  });

  const run = () => {
    watcher = startWatcher({
      sink: sink.url,
      stateDir,
      endpoints: { aws: imds.url, gce: dead, azure: dead },
    });
    return watcher;
  };
  const polls = () => imds.requests.filter((r) => r === SPOT).length;
  const morePolls = async (n: number) => {
    const from = polls();
    await waitFor(`${n} more polls`, () => polls() >= from + n);
  };

  it('the stand-in follows IMDSv2: 401 without a token, 400 without a TTL, 404 until a notice exists', async () => {
    assert.equal((await fetch(`${imds.url}/latest/meta-data/instance-id`)).status, 401);
    assert.equal((await fetch(`${imds.url}/latest/api/token`, { method: 'PUT' })).status, 400);
    const token = await (
      await fetch(`${imds.url}/latest/api/token`, {
        method: 'PUT',
        headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '60' },
      })
    ).text();
    const spot = await fetch(`${imds.url}/latest/meta-data/spot/instance-action`, {
      headers: { 'X-aws-ec2-metadata-token': token },
    });
    assert.equal(spot.status, 404);
  });

  it('a spot instance-action is sent once, for this node, with its time as deadline — across polls and restarts', async () => {
    run();
    await morePolls(3);
    assert.equal(sink.received.length, 0, 'nothing while instance-action is 404');
    const time = new Date(Date.now() + 120_000).toISOString().replace(/\.\d+Z$/, 'Z');
    imds.spotAction = { action: 'terminate', time };
    await waitFor('the notice', () => sink.received.length === 1);
    const [event] = sink.received;
    assert.equal(event!.headers['ce-type'], 'io.snapback.preemption.noticed');
    assert.equal(event!.headers['ce-source'], '/snapback/watch/node-a');
    assert.equal(event!.data.node, 'node-a');
    assert.equal(event!.data.deadline, new Date(time).toISOString());
    assert.equal(event!.data.urgency, 'imminent');
    assert.match(event!.data.reason!, /i-0aaaaaaaaaaaaaaaa/);
    await morePolls(5);
    assert.equal(sink.received.length, 1, 'the notice stays in IMDS; it is not sent again');

    await watcher!.stop();
    run();
    await morePolls(5);
    assert.equal(sink.received.length, 1, 'a restarted watcher remembers it');
    const record = JSON.parse(await readFile(join(stateDir, SENT_NOTICES_FILE), 'utf8'));
    assert.deepEqual(Object.keys(record.sent), [`aws/spot/terminate/${time}`]);
  });

  it('a rebalance recommendation is an early notice; Auto Scaling Terminated an imminent one; InService nothing', async () => {
    run();
    imds.rebalance = { noticeTime: '2026-03-02T10:00:00Z' };
    await waitFor('the rebalance notice', () => sink.received.length === 1);
    assert.equal(sink.received[0]!.data.urgency, 'early');
    assert.equal(sink.received[0]!.data.deadline, undefined);
    imds.lifecycleState = 'InService';
    await morePolls(3);
    assert.equal(sink.received.length, 1);
    imds.lifecycleState = 'Terminated';
    await waitFor('the lifecycle notice', () => sink.received.length === 2);
    assert.equal(sink.received[1]!.data.urgency, 'imminent');
    assert.match(sink.received[1]!.data.reason!, /Terminated/);
  });

  it('an expired token is renewed after a 401, and watching goes on', async () => {
    run();
    await morePolls(2);
    const issued = imds.tokensIssued;
    imds.expireTokens();
    await waitFor('a new token', () => imds.tokensIssued > issued && imds.unauthorized > 0);
    imds.rebalance = { noticeTime: '2026-03-02T11:00:00Z' };
    await waitFor('the notice after renewal', () => sink.received.length === 1);
  });

  it('a sink that is down is retried until it accepts; one that refuses is given up, once', async () => {
    run();
    sink.failNext(3, 503);
    const before = sink.attempts;
    imds.spotAction = { action: 'stop', time: new Date(Date.now() + 120_000).toISOString() };
    await waitFor('delivery after three refusals', () => sink.received.length === 1);
    assert.equal(sink.attempts - before, 4);
    sink.failNext(1, 400);
    imds.rebalance = { noticeTime: '2026-03-02T12:00:00Z' };
    await waitFor('the refusal', () => sink.attempts === before + 5);
    await morePolls(5);
    assert.equal(sink.attempts, before + 5, 'a refused notice is not sent again');
    assert.equal(sink.received.length, 1);
  });
});
