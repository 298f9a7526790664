/**
 * Node taints end to end on loopback: a producer (the test, as NTH, Karpenter, cluster-autoscaler or GKE
 * would) patches a node's taints through the real client-node; an ApiServerSource stand-in sends the Node
 * updates as Knative does; the functions checkpoint every opted-in pod of that node, and nothing for a taint
 * that is no notice.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { type ApiServerSourceStandIn, startApiServerSource } from '../helpers/apiserver-source.js';
import { type FakeAgent, startFakeAgent } from '../helpers/fake-agent.js';
import { agentPod, type FakeKube, node, pod, startFakeKube } from '../helpers/fake-kube.js';
import { type Sink, startClusterFunctions, startSink } from '../helpers/functions-env.js';
import { waitFor } from '../helpers/proc.js';

const enabled = { 'snapback.io/enabled': 'true' };

describe('node taints from each producer, through the functions (loopback)', () => {
  let kube: FakeKube;
  let api: CoreV1Api;
  let agent: FakeAgent;
  let sink: Sink;
  let fns: Awaited<ReturnType<typeof startClusterFunctions>>;
  let source: ApiServerSourceStandIn;

  const taint = (taints: Array<{ key: string; value?: string; effect: string }>) =>
    api.patchNode(
      { name: 'node-a', body: { spec: { taints } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );

  before(async () => {
    [kube, agent, sink] = await Promise.all([startFakeKube(), startFakeAgent('node-a'), startSink()]);
    const kc = new KubeConfig();
    kc.loadFromFile(kube.kubeconfig);
    api = kc.makeApiClient(CoreV1Api);
  });
  after(() => Promise.all([kube.close(), agent.close(), sink.close()]));
  beforeEach(async () => {
    kube.nodes = [node('node-a', 'aws:///z/i-0aaaaaaaaaaaaaaaa')];
    kube.pods = [
      agentPod('agent-a', 'node-a', agent.address),
      pod('ml', 'train-0', 'node-a', { labels: enabled }),
      pod('ml', 'train-1', 'node-a', { labels: enabled }),
      pod('ml', 'web', 'node-a'),
    ];
    sink.received.length = 0;
    agent.checkpoints.length = 0;
    fns = await startClusterFunctions(kube, { sink: sink.url });
    source = await startApiServerSource(kube, fns.url, [
      { path: '/api/v1/nodes', kind: 'Node', plural: 'nodes' },
    ]);
    await source.settled();
  });
  afterEach(async () => {
    source.stop();
    await fns.close();
  });

  for (const [producer, t] of [
    ['aws-node-termination-handler', { key: 'aws-node-termination-handler/spot-itn', effect: 'NoSchedule' }],
    ['Karpenter v1', { key: 'karpenter.sh/disrupted', effect: 'NoSchedule' }],
    ['Karpenter before v1', { key: 'karpenter.sh/disruption', value: 'disrupting', effect: 'NoSchedule' }],
    [
      'cluster-autoscaler',
      { key: 'ToBeDeletedByClusterAutoscaler', value: '1795867200', effect: 'NoSchedule' },
    ],
    ['GKE', { key: 'cloud.google.com/impending-node-termination', effect: 'NoSchedule' }],
  ] as const) {
    it(`${producer}: ${t.key}${'value' in t ? `=${t.value}` : ''} checkpoints the node's opted-in pods`, async () => {
      await taint([t]);
      await waitFor('preemption.handled', () =>
        sink.received.some((r) => r.headers['ce-type'] === 'io.snapback.preemption.handled'),
      );
      assert.deepEqual(agent.checkpoints.map((c) => c.request.target?.pod).sort(), ['train-0', 'train-1']);
    });
  }

  it('the out-of-service taint: the node is already down, its opted-in pods are reported too late, none is tried', async () => {
    await taint([{ key: 'node.kubernetes.io/out-of-service', value: 'nodeshutdown', effect: 'NoExecute' }]);
    await waitFor('preemption.handled', () =>
      sink.received.some((r) => r.headers['ce-type'] === 'io.snapback.preemption.handled'),
    );
    const handled = sink.received.find((r) => r.headers['ce-type'] === 'io.snapback.preemption.handled')!
      .body as {
      pods: Array<{ pod: string; outcome: string; reason: string }>;
    };
    assert.deepEqual(handled.pods.map((p) => `${p.pod}:${p.outcome}`).sort(), [
      'train-0:skipped',
      'train-1:skipped',
    ]);
    assert.ok(handled.pods.every((p) => p.reason.startsWith('too late')));
    assert.deepEqual(agent.checkpoints, []);
  });

  it('a cordon, a scale-down candidate or another Karpenter value: answered 2xx, nothing checkpointed', async () => {
    const before = source.deliveries.length;
    await taint([{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }]);
    await taint([
      { key: 'DeletionCandidateOfClusterAutoscaler', value: '1795867200', effect: 'PreferNoSchedule' },
    ]);
    await taint([{ key: 'karpenter.sh/disruption', value: 'candidate', effect: 'NoSchedule' }]);
    await waitFor('the three updates', () => source.deliveries.length >= before + 3);
    await source.settled();
    assert.ok(
      source.deliveries.every((d) => d.status === 202),
      JSON.stringify(source.deliveries),
    );
    assert.deepEqual(agent.checkpoints, []);
  });
});
