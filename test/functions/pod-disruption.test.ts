/**
 * Pod-level disruption end to end on loopback: a Kubernetes controller (the test, through the real
 * client-node) marks a pod DisruptionTarget and deletes it, or records a Preempted Event; an ApiServerSource
 * stand-in sends the updates as Knative does; the functions (informers) checkpoint that pod, once, before
 * it is killed, through a fake agent, and the sink gets the completion and a `preemption.handled`.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { type ApiServerSourceStandIn, startApiServerSource } from '../helpers/apiserver-source.js';
import { type FakeAgent, startFakeAgent } from '../helpers/fake-agent.js';
import { agentPod, type FakeKube, node, pod, startFakeKube } from '../helpers/fake-kube.js';
import { postBinary, type Sink, startClusterFunctions, startSink } from '../helpers/functions-env.js';
import { waitFor } from '../helpers/proc.js';

const enabled = { 'snapback.io/enabled': 'true' };
const reasons = [
  'PreemptionByScheduler',
  'DeletionByTaintManager',
  'EvictionByEvictionAPI',
  'DeletionByPodGC',
  'TerminationByKubelet',
];
type Handled = { node: string; format: string; pods: Array<{ pod: string; outcome: string }> };

describe('pod-level disruption through the functions (loopback API server, fake agents)', () => {
  let kube: FakeKube;
  let api: CoreV1Api;
  let agentA: FakeAgent;
  let agentB: FakeAgent;
  let sink: Sink;
  let fns: Awaited<ReturnType<typeof startClusterFunctions>>;
  let source: ApiServerSourceStandIn;
  let round = 0;
  const uid = (name: string) => `uid-${name}-${round}`;

  const received = (type: string) => sink.received.filter((r) => r.headers['ce-type'] === type);
  const checkpointed = () =>
    [...agentA.checkpoints, ...agentB.checkpoints].map(
      (c) => `${c.request.target?.pod}/${c.request.target?.container}`,
    );

  /** What the scheduler, taint manager, eviction API, PodGC or kubelet does: the condition, then the delete. */
  async function disrupt(name: string, reason: string, deleteIt = true): Promise<Date> {
    const since = new Date();
    await api.patchNamespacedPodStatus(
      {
        name,
        namespace: 'ml',
        body: {
          status: {
            conditions: [
              {
                type: 'DisruptionTarget',
                status: 'True',
                reason,
                message: `${reason} in a test`,
                lastTransitionTime: since,
              },
            ],
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    if (deleteIt) await api.deleteNamespacedPod({ name, namespace: 'ml' });
    return since;
  }

  before(async () => {
    [kube, agentA, agentB, sink] = await Promise.all([
      startFakeKube(),
      startFakeAgent('node-a'),
      startFakeAgent('node-b'),
      startSink(),
    ]);
    const kc = new KubeConfig();
    kc.loadFromFile(kube.kubeconfig);
    api = kc.makeApiClient(CoreV1Api);
  });
  after(() => Promise.all([kube.close(), agentA.close(), agentB.close(), sink.close()]));
  beforeEach(async () => {
    round++;
    kube.nodes = [
      node('node-a', 'aws:///z/i-0aaaaaaaaaaaaaaaa'),
      node('node-b', 'aws:///z/i-0bbbbbbbbbbbbbbbb'),
    ];
    const withUid = (p: ReturnType<typeof pod>) => {
      p.metadata!.uid = uid(p.metadata!.name!);
      return p;
    };
    kube.pods = [
      agentPod('agent-a', 'node-a', agentA.address),
      agentPod('agent-b', 'node-b', agentB.address),
      withUid(
        pod('ml', 'trainer-0', 'node-a', {
          labels: enabled,
          containers: ['side', 'train'],
          annotations: { 'snapback.io/container': 'train' },
        }),
      ),
      withUid(pod('ml', 'trainer-1', 'node-a', { labels: enabled, gracePeriodSeconds: 60 })),
      withUid(pod('ml', 'web', 'node-a')),
      withUid(pod('ml', 'trainer-2', 'node-b', { labels: enabled })),
    ];
    kube.events = [];
    sink.received.length = 0;
    for (const a of [agentA, agentB]) {
      a.checkpoints.length = 0;
      a.behaviour = () => ({ kind: 'ok', delayMs: 20 });
    }
    fns = await startClusterFunctions(kube, { sink: sink.url });
    source = await startApiServerSource(kube, fns.url, [
      { path: '/api/v1/pods', kind: 'Pod', plural: 'pods', labelSelector: 'snapback.io/enabled=true' },
      { path: '/api/v1/events', kind: 'Event', plural: 'events' },
    ]);
    await source.settled();
  });
  afterEach(async () => {
    source.stop();
    await fns.close();
  });

  for (const reason of reasons) {
    it(`DisruptionTarget ${reason}: that pod is checkpointed once, before its grace period ends`, async () => {
      const since = await disrupt('trainer-1', reason);
      await waitFor('preemption.handled', () => received('io.snapback.preemption.handled').length > 0);
      await waitFor(
        'the condition and the delete to arrive',
        () =>
          source.deliveries.filter((d) => d.name === 'trainer-1' && d.type.endsWith('.update')).length >= 2,
      );
      await source.settled();
      assert.deepEqual(
        checkpointed(),
        ['trainer-1/main'],
        'that pod only, once for the condition and the delete',
      );
      const [call] = agentA.checkpoints;
      const deadline = Number(call!.deadline);
      // 60 s of grace from the condition, minus the 10 s kept free; the delete's deletionTimestamp agrees.
      assert.ok(
        deadline <= since.getTime() + 50_000 + 1_000 && deadline > Date.now() + 40_000,
        `deadline in ${deadline - Date.now()} ms`,
      );
      const handled = received('io.snapback.preemption.handled')[0]!.body as Handled;
      assert.equal(handled.node, 'node-a');
      assert.equal(handled.format, 'kubernetes-pod-disruption-target');
      assert.deepEqual(
        handled.pods.map((p) => `${p.pod}:${p.outcome}`),
        ['trainer-1:checkpointed'],
      );
      assert.equal(received('io.snapback.checkpoint.completed').length, 1);
      assert.ok(
        source.deliveries.filter((d) => d.kind === 'Pod').every((d) => d.status === 202),
        JSON.stringify(source.deliveries),
      );
      assert.ok(
        kube.events.some((e) => e.reason === 'Checkpointed' && e.involvedObject.name === 'trainer-1'),
      );
    });
  }

  it('pod updates without the condition, and Events of other reasons, are answered 2xx and ignored', async () => {
    const initial = source.deliveries.length;
    for (let i = 0; i < 5; i++) {
      await api.patchNamespacedPod(
        { name: 'trainer-0', namespace: 'ml', body: { metadata: { annotations: { tick: String(i) } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    }
    await api.patchNamespacedPodStatus(
      {
        name: 'trainer-0',
        namespace: 'ml',
        body: { status: { conditions: [{ type: 'Ready', status: 'False' }] } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    await api.createNamespacedEvent({
      namespace: 'ml',
      body: {
        metadata: { generateName: 'trainer-0.' },
        involvedObject: { kind: 'Pod', namespace: 'ml', name: 'trainer-0', uid: uid('trainer-0') },
        reason: 'Pulled',
        message: 'image pulled',
      },
    });
    await waitFor('the updates to arrive', () => source.deliveries.length >= initial + 7);
    await source.settled();
    assert.ok(
      source.deliveries.every((d) => d.status >= 200 && d.status < 300),
      JSON.stringify(source.deliveries),
    );
    assert.deepEqual(checkpointed(), []);
    assert.deepEqual(received('io.snapback.preemption.handled'), []);
  });

  it('a Preempted Event checkpoints the opted-in pod it names, once with the condition that follows; not others', async () => {
    const preempted = (name: string, podUid: string) =>
      api.createNamespacedEvent({
        namespace: 'ml',
        body: {
          metadata: { generateName: `${name}.` },
          involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'ml', name, uid: podUid },
          reason: 'Preempted',
          message: 'Preempted by pod 7d2e4a61 on node node-a',
          type: 'Normal',
          reportingComponent: 'default-scheduler',
          eventTime: new Date() as never,
        },
      });
    await preempted('trainer-0', uid('trainer-0'));
    await preempted('web', uid('web')); // did not opt in
    await preempted('trainer-2', 'uid-of-a-pod-replaced-since'); // same name, another pod
    await waitFor('the checkpoint', () => checkpointed().length > 0);
    await disrupt('trainer-0', 'PreemptionByScheduler');
    await waitFor(
      'the condition and the delete to arrive',
      () => source.deliveries.filter((d) => d.kind === 'Pod' && d.name === 'trainer-0').length >= 3,
    );
    await source.settled();
    assert.deepEqual(checkpointed(), ['trainer-0/train']);
    const handled = received('io.snapback.preemption.handled').map((r) => r.body as Handled);
    assert.deepEqual(
      handled.map((h) => h.format),
      ['kubernetes-preempted-event'],
    );
  });

  it('hostile pod objects posted to the function: 2xx and ignored, or 400 naming the field; it keeps serving', async () => {
    const post = (data: unknown) =>
      postBinary(
        fns.url,
        {
          specversion: '1.0',
          id: `h-${Math.random()}`,
          source: '/t',
          type: 'dev.knative.apiserver.resource.update',
        },
        data,
      );
    const condition = { type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI' };
    const nameless = await post({
      kind: 'Pod',
      metadata: { namespace: 'ml', uid: 'u' },
      status: { conditions: [condition] },
    });
    assert.equal(nameless.status, 400);
    const body = (await nameless.json()) as { error: { details: Array<{ field: string }> } };
    assert.deepEqual(
      body.error.details.map((d) => d.field),
      ['data.metadata.name'],
    );
    const noisy = Array.from({ length: 20_000 }, (_, i) => ({ type: `example.com/c${i}`, status: 'True' }));
    assert.equal((await post({ kind: 'Pod', status: { conditions: noisy } })).status, 202);
    assert.equal((await post({ kind: 'Pod', metadata: 7, status: null })).status, 202);
    const huge = { kind: 'Pod', metadata: { name: 'x'.repeat(2 * 1024 * 1024) } };
    assert.equal((await post(huge)).status, 413);
    assert.equal((await fetch(`${fns.url}/health/liveness`)).status, 200);
    assert.deepEqual(checkpointed(), []);
  });
});
