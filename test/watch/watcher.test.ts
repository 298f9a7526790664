/**
 * The watcher apart from any one cloud: no metadata server → said once, then idle until stopped; an
 * explicit cloud skips detection; the record of sent notices is durable, bounded and forgets on request;
 * the event it sends is a valid notice of the preemption function.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isIgnored, parsePreemptionNotice } from '../../src/events/notices/index.js';
import { Urgency } from '../../src/events/notices/notice.js';
import { silentLogger } from '../../src/log.js';
import { Cloud, noticeEvent } from '../../src/watch/notice.js';
import { SENT_NOTICES_FILE, SentNotices } from '../../src/watch/sent-notices.js';
import { startFakeImds } from '../helpers/metadata/aws-imds.js';
import { reply, startStub } from '../helpers/metadata/http-stub.js';
import {
  capturedLogger,
  deadEndpoint,
  newStateDir,
  removeDir,
  startNoticeSink,
  startWatcher,
  waitFor,
} from '../helpers/watch-env.js';

describe('snapback watch', () => {
  it('with no metadata server it says so once and idles until stopped', async () => {
    const [dead, sink, stateDir] = await Promise.all([deadEndpoint(), startNoticeSink(), newStateDir()]);
    const { log, lines } = capturedLogger();
    const watcher = startWatcher({
      sink: sink.url,
      stateDir,
      endpoints: { aws: dead, gce: dead, azure: dead },
      log,
    });
    let settled = false;
    void watcher.done.then(() => {
      settled = true;
    });
    const said = () => lines.filter((l) => /no cloud metadata server answered/.test(String(l['msg'])));
    await waitFor('the message', () => said().length === 1);
    const count = lines.length;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'it idles instead of exiting (a DaemonSet would restart it)');
    await watcher.stop();
    assert.equal(said().length, 1);
    assert.equal(lines.length, count, 'and says nothing more');
    assert.equal(sink.received.length, 0);
    await Promise.all([sink.close(), removeDir(stateDir)]);
  });

  it('an explicit --cloud skips detection (the other metadata servers are never asked)', async () => {
    const notFound = (_req: unknown, _url: unknown, _body: unknown, res: ServerResponse) =>
      reply(res, 404, '');
    const [imds, gce, azure, sink, stateDir] = await Promise.all([
      startFakeImds('i-0123456789abcdef0'),
      startStub(notFound),
      startStub(notFound),
      startNoticeSink(),
      newStateDir(),
    ]);
    const watcher = startWatcher({
      cloud: Cloud.AWS,
      sink: sink.url,
      stateDir,
      endpoints: { aws: imds.url, gce: gce.url, azure: azure.url },
    });
    imds.rebalance = { noticeTime: '2026-03-02T10:00:00Z' };
    await waitFor('the notice', () => sink.received.length === 1);
    await watcher.stop();
    assert.deepEqual([...gce.requests, ...azure.requests], []);
    await Promise.all([imds.close(), gce.close(), azure.close(), sink.close(), removeDir(stateDir)]);
  });

  it('records sent notices durably, forgets by prefix, and stays bounded', async () => {
    const dir = await newStateDir();
    const log = silentLogger();
    const sent = await SentNotices.open(join(dir, 'state'), log);
    await sent.record('gce/preempted/abc', new Date('2026-03-02T10:00:00Z'));
    await sent.record('azure/E-1', new Date('2026-03-02T10:00:01Z'));
    const reopened = await SentNotices.open(join(dir, 'state'), log);
    assert.ok(reopened.has('gce/preempted/abc') && reopened.has('azure/E-1'));
    await reopened.forget('gce/preempted/');
    const again = await SentNotices.open(join(dir, 'state'), log);
    assert.ok(!again.has('gce/preempted/abc') && again.has('azure/E-1'));
    for (let i = 0; i < 1005; i++) await again.record(`aws/spot/terminate/${i}`, new Date());
    assert.equal(again.size, 1000);
    assert.ok(!again.has('azure/E-1'), 'the oldest key went first');
    const file = JSON.parse(await readFile(join(dir, 'state', SENT_NOTICES_FILE), 'utf8'));
    assert.equal(Object.keys(file.sent).length, 1000);
    await removeDir(dir);
  });

  it('an unreadable record is started afresh, loudly', async () => {
    const dir = await newStateDir();
    await writeFile(join(dir, SENT_NOTICES_FILE), '{not json');
    const { log, lines } = capturedLogger();
    const sent = await SentNotices.open(dir, log);
    assert.equal(sent.size, 0);
    assert.ok(lines.some((l) => l['level'] === 50));
    await removeDir(dir);
  });

  it('its events are notices the preemption function reads: this node, deadline, urgency', () => {
    const deadline = new Date('2026-03-02T10:02:00Z');
    const event = noticeEvent(
      { key: 'aws/spot/terminate/x', cloud: Cloud.AWS, urgency: Urgency.IMMINENT, deadline, reason: 'r' },
      'node-a',
      new Date(),
    );
    const notice = parsePreemptionNotice(event);
    assert.ok(!isIgnored(notice));
    assert.deepEqual(notice.nodes, [{ node: 'node-a' }]);
    assert.equal(notice.deadline?.toISOString(), deadline.toISOString());
    const early = parsePreemptionNotice(
      noticeEvent(
        { key: 'aws/rebalance/x', cloud: Cloud.AWS, urgency: Urgency.EARLY, reason: 'r' },
        'node-a',
        new Date(),
      ),
    );
    assert.ok(!isIgnored(early));
    assert.equal(early.urgency, Urgency.EARLY);
    const sameId = noticeEvent(
      { key: 'aws/spot/terminate/x', cloud: Cloud.AWS, urgency: Urgency.IMMINENT, reason: 'r' },
      'node-a',
      new Date(),
    );
    assert.equal(sameId.id, event.id, 'the same notice is the same event id (the functions dedupe it)');
  });
});
