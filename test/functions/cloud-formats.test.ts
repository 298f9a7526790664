/**
 * Each cloud's own format, posted to the functions as its broker delivers it (documented samples from
 * test/fixtures/notices): raw EventBridge bodies (API destinations), EventBridge events inside Knative's
 * SQS source events, Eventarc audit-log CloudEvents in binary mode, Azure Scheduled Events documents
 * (binary, and structured as Event Grid delivers CloudEvents 1.0), and Event Grid's validation handshake.
 * For each: this node's pods are checkpointed and no other's, the other node's likewise, a malformed copy
 * is answered 400 naming the field with nothing dispatched, and duplicates give one checkpoint per pod.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { formats, postRaw } from '../helpers/cloud-formats.js';
import { type FakeAgent, startFakeAgent } from '../helpers/fake-agent.js';
import { agentPod, type FakeKube, node, pod, startFakeKube } from '../helpers/fake-kube.js';
import { startClusterFunctions } from '../helpers/functions-env.js';

const enabled = { 'snapback.io/enabled': 'true' };

describe('cloud formats posted to the functions (cluster mode, loopback)', () => {
  let kube: FakeKube;
  let agentA: FakeAgent;
  let agentB: FakeAgent;
  let fns: Awaited<ReturnType<typeof startClusterFunctions>> | undefined;

  before(async () => {
    [kube, agentA, agentB] = await Promise.all([
      startFakeKube(),
      startFakeAgent('node-a'),
      startFakeAgent('node-b'),
    ]);
  });
  after(async () => {
    await Promise.all([kube.close(), agentA.close(), agentB.close()]);
  });
  beforeEach(async () => {
    kube.pods = [
      agentPod('agent-a', 'node-a', agentA.address),
      agentPod('agent-b', 'node-b', agentB.address),
      pod('ml', 'trainer-0', 'node-a', { labels: enabled }),
      pod('ml', 'trainer-1', 'node-a', { labels: enabled }),
      pod('ml', 'trainer-2', 'node-b', { labels: enabled }),
    ];
    for (const a of [agentA, agentB]) a.checkpoints.length = 0;
    fns = await startClusterFunctions(kube);
  });
  afterEach(async () => {
    await fns?.close();
    fns = undefined;
  });

  const pods = (agent: FakeAgent) => agent.checkpoints.map((c) => c.request.target?.pod).sort();

  for (const format of formats) {
    it(`${format.name}: this node, another node, malformed, duplicates`, async () => {
      kube.nodes = [node('node-a', format.providerIds[0]), node('node-b', format.providerIds[1])];
      const url = `${fns!.url}/preemption`;

      const bad = await format.malformed.post(url, 'this');
      assert.equal(bad.status, 400, await bad.clone().text());
      const body = (await bad.json()) as { error: { details: Array<{ field: string }> } };
      assert.ok(
        body.error.details.some((d) => d.field === format.malformed.field),
        JSON.stringify(body.error.details),
      );
      assert.deepEqual([...pods(agentA), ...pods(agentB)], [], 'nothing dispatched for a malformed notice');

      const replies = await Promise.all(Array.from({ length: 5 }, () => format.post(url, 'this')));
      for (const reply of replies) assert.equal(reply.status, 200, await reply.text());
      assert.deepEqual(pods(agentA), ['trainer-0', 'trainer-1'], 'one checkpoint per pod of this node');
      assert.deepEqual(pods(agentB), []);

      const other = await format.post(url, 'other');
      assert.equal(other.status, 200, await other.text());
      assert.deepEqual(pods(agentB), ['trainer-2']);
      assert.deepEqual(pods(agentA), ['trainer-0', 'trainer-1'], 'the other node leaves this one alone');
    });
  }

  it('a raw EventBridge event of a kind snapback does not act on is refused by type, naming it', async () => {
    const res = await postRaw(`${fns!.url}/preemption`, {
      version: '0',
      id: 'ami-1',
      'detail-type': 'EC2 AMI State Change',
      source: 'aws.ec2',
      time: new Date().toISOString(),
      detail: { State: 'available' },
    });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /com\.amazonaws\.eventbridge\.event/);
  });
});

describe('Event Grid webhook validation handshake (CloudEvents abuse protection)', () => {
  let kube: FakeKube;
  let fns: Awaited<ReturnType<typeof startClusterFunctions>>;
  before(async () => {
    kube = await startFakeKube();
    fns = await startClusterFunctions(kube);
  });
  after(async () => {
    await fns.close();
    await kube.close();
  });

  it('allows Event Grid at every function path, with the rate it asked for', async () => {
    for (const path of ['/', '/preemption']) {
      const res = await fetch(`${fns.url}${path}`, {
        method: 'OPTIONS',
        headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net', 'WebHook-Request-Rate': '120' },
      });
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('webhook-allowed-origin'), 'eventgrid.azure.net');
      assert.equal(res.headers.get('webhook-allowed-rate'), '120');
    }
    const noRate = await fetch(`${fns.url}/preemption`, {
      method: 'OPTIONS',
      headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' },
    });
    assert.equal(noRate.headers.get('webhook-allowed-rate'), '*');
  });

  it('names the missing origin header, and refuses other senders without an allowed origin', async () => {
    const missing = await fetch(`${fns.url}/preemption`, { method: 'OPTIONS' });
    assert.equal(missing.status, 400);
    const body = (await missing.json()) as { error: { details: Array<{ field: string }> } };
    assert.deepEqual(
      body.error.details.map((d) => d.field),
      ['WebHook-Request-Origin'],
    );
    const stranger = await fetch(`${fns.url}/preemption`, {
      method: 'OPTIONS',
      headers: { 'WebHook-Request-Origin': 'events.example.com' },
    });
    assert.equal(stranger.status, 403);
    assert.equal(stranger.headers.get('webhook-allowed-origin'), null);
  });
});
