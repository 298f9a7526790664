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
import { aimedAt, fixture, type Json, rfc1123, SampleId } from '../helpers/cloud-fixtures.js';
import { type FakeAgent, startFakeAgent } from '../helpers/fake-agent.js';
import { agentPod, type FakeKube, node, pod, startFakeKube } from '../helpers/fake-kube.js';
import { postBinary, startClusterFunctions } from '../helpers/functions-env.js';

const enabled = { 'snapback.io/enabled': 'true' };
const AWS_A = 'i-0aaaaaaaaaaaaaaaa';
const AWS_B = 'i-0bbbbbbbbbbbbbbbb';
const vmss = (i: number) =>
  `azure:///subscriptions/0000/resourceGroups/mc_rg/providers/Microsoft.Compute/virtualMachineScaleSets/aks-spot-12345678-vmss/virtualMachines/${i}`;

type Target = 'this' | 'other';
type Post = (url: string, target: Target) => Promise<Response>;

const postRaw = (url: string, body: unknown) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(body),
  });

/** A raw EventBridge event as an API destination posts it. */
const rawEventBridge =
  (name: string, edit: (event: Json) => void): Post =>
  (url, target) => {
    const event = aimedAt(fixture(name), SampleId.AWS_INSTANCE, target === 'this' ? AWS_A : AWS_B);
    event['id'] = `${event['id']}-${target}`;
    edit(event);
    return postRaw(url, event);
  };

const eventarc: Post = (url, target) => {
  const event = fixture('gcp/eventarc-audit-log-instances-preempted.json');
  const aimed = aimedAt(event, SampleId.GCE_INSTANCE, target === 'this' ? 'gke-node-a' : 'gke-node-b');
  const { data, ...attributes } = aimed;
  data['timestamp'] = new Date().toISOString();
  attributes['id'] = `${attributes['id']}-${target}`;
  return postBinary(url, attributes as Record<string, string>, data);
};

const azureDocument = (name: string, target: Target, leadMs: number): Json => {
  const document = aimedAt(
    fixture(name),
    SampleId.AZURE_VM,
    target === 'this' ? 'aks-spot-12345678-vmss_3' : 'aks-spot-12345678-vmss_4',
  );
  document['Events'][0]['NotBefore'] = rfc1123(new Date(Date.now() + leadMs));
  return document;
};

/** Every format, the nodes it is run against, and how to break it (and the field the answer names). */
const formats: Array<{
  name: string;
  providerIds: [string, string];
  post: Post;
  malformed: { post: Post; field: string };
}> = [
  {
    name: 'raw EventBridge spot interruption warning (API destination)',
    providerIds: [`aws:///us-east-2a/${AWS_A}`, `aws:///us-east-2b/${AWS_B}`],
    post: rawEventBridge('aws/eventbridge-spot-interruption-warning.json', (e) => {
      e['time'] = new Date().toISOString();
    }),
    malformed: {
      post: rawEventBridge('aws/eventbridge-spot-interruption-warning.json', (e) => {
        e['detail']['instance-id'] = 'i-NOPE';
      }),
      field: 'data.detail.instance-id',
    },
  },
  {
    name: 'raw EventBridge instance state change (stopping)',
    providerIds: [`aws:///us-east-1a/${AWS_A}`, `aws:///us-east-1b/${AWS_B}`],
    post: rawEventBridge('aws/eventbridge-instance-state-change.json', (e) => {
      e['time'] = new Date().toISOString();
    }),
    malformed: {
      post: rawEventBridge('aws/eventbridge-instance-state-change.json', (e) => {
        e['time'] = 'yesterday';
      }),
      field: 'data.time',
    },
  },
  {
    name: 'raw EventBridge AWS Health scheduled change',
    providerIds: [`aws:///us-east-1a/${AWS_A}`, `aws:///us-east-1b/${AWS_B}`],
    post: rawEventBridge('aws/eventbridge-health-scheduled-change.json', (e) => {
      e['detail']['startTime'] = rfc1123(new Date(Date.now() + 86_400_000));
    }),
    malformed: {
      post: rawEventBridge('aws/eventbridge-health-scheduled-change.json', (e) => {
        delete e['detail']['service'];
      }),
      field: 'data.detail.service',
    },
  },
  {
    name: 'raw EventBridge Auto Scaling terminate lifecycle action',
    providerIds: [`aws:///us-west-2a/${AWS_A}`, `aws:///us-west-2b/${AWS_B}`],
    post: rawEventBridge('aws/eventbridge-asg-terminate-lifecycle-action.json', () => {}),
    malformed: {
      post: rawEventBridge('aws/eventbridge-asg-terminate-lifecycle-action.json', (e) => {
        delete e['detail']['EC2InstanceId'];
      }),
      field: 'data.detail.EC2InstanceId',
    },
  },
  {
    name: 'EventBridge rebalance recommendation inside a Knative SQS source event',
    providerIds: [`aws:///us-east-2a/${AWS_A}`, `aws:///us-east-2b/${AWS_B}`],
    post: (url, target) => {
      const event = aimedAt(
        fixture('aws/eventbridge-rebalance-recommendation.json'),
        SampleId.AWS_INSTANCE,
        target === 'this' ? AWS_A : AWS_B,
      );
      const attrs = {
        specversion: '1.0',
        id: `sqs-${target}`,
        source: 'arn:aws:sqs:us-east-2:1:q',
        type: 'dev.knative.eventing.aws-sqs',
      };
      return postBinary(url, attrs, event);
    },
    malformed: {
      post: (url) => {
        const event = fixture('aws/eventbridge-rebalance-recommendation.json');
        delete event['time'];
        const attrs = {
          specversion: '1.0',
          id: 'sqs-bad',
          source: 'arn:aws:sqs:us-east-2:1:q',
          type: 'dev.knative.eventing.aws-sqs',
        };
        return postBinary(url, attrs, event);
      },
      field: 'data.time',
    },
  },
  {
    name: 'Eventarc audit log compute.instances.preempted (binary mode)',
    providerIds: ['gce://my-project/us-central1-a/gke-node-a', 'gce://my-project/us-central1-a/gke-node-b'],
    post: eventarc,
    malformed: {
      post: (url) => {
        const { data, ...attributes } = fixture('gcp/eventarc-audit-log-instances-preempted.json');
        data['protoPayload']['resourceName'] = 'projects/my-project/zones/us-central1-a';
        return postBinary(url, attributes as Record<string, string>, data);
      },
      field: 'data.protoPayload.resourceName',
    },
  },
  {
    name: 'Azure Scheduled Events Terminate (binary mode)',
    providerIds: [vmss(3), vmss(4)],
    post: (url, target) =>
      postBinary(
        url,
        {
          specversion: '1.0',
          id: `terminate-${target}`,
          source: '/azure/imds',
          type: 'com.microsoft.azure.scheduledevents',
        },
        azureDocument('azure/scheduled-events-terminate.json', target, 300_000),
      ),
    malformed: {
      post: (url) => {
        const document = fixture('azure/scheduled-events-terminate.json');
        document['Events'][0]['Resources'] = 'aks-spot-12345678-vmss_3';
        return postBinary(
          url,
          {
            specversion: '1.0',
            id: 'terminate-bad',
            source: '/azure/imds',
            type: 'com.microsoft.azure.scheduledevents',
          },
          document,
        );
      },
      field: 'data.Events.0.Resources',
    },
  },
  {
    name: 'Azure Scheduled Events Preempt as Event Grid delivers CloudEvents 1.0 (structured mode)',
    providerIds: [vmss(3), vmss(4)],
    post: (url, target) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
        body: JSON.stringify({
          specversion: '1.0',
          id: `grid-${target}`,
          source: '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.EventGrid/topics/snapback',
          type: 'com.microsoft.azure.scheduledevents',
          time: new Date().toISOString(),
          datacontenttype: 'application/json',
          data: azureDocument('azure/scheduled-events-preempt.json', target, 60_000),
        }),
      }),
    malformed: {
      post: (url) =>
        fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/cloudevents+json' },
          body: JSON.stringify({
            specversion: '1.0',
            id: 'grid-bad',
            source: '/grid',
            type: 'com.microsoft.azure.scheduledevents',
            data: { DocumentIncarnation: 'three', Events: [] },
          }),
        }),
      field: 'data.DocumentIncarnation',
    },
  },
];

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
