/**
 * The deadline planner through the preemption function (loopback API server, a fake agent, a sink): a
 * notice whose deadline holds only some of a node's checkpoints starts those in priority order and skips
 * the rest with the reason in `preemption.handled`; a pod whose `snapback.io/priority` cannot be read fails,
 * naming the annotation, and its agent is not called.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { type FakeAgent, startFakeAgent } from '../helpers/fake-agent.js';
import { agentPod, type FakeKube, node, pod, startFakeKube } from '../helpers/fake-kube.js';
import { postBinary, type Sink, startClusterFunctions, startSink } from '../helpers/functions-env.js';

const enabled = { 'snapback.io/enabled': 'true' };
const GiB = 2 ** 30;

function sized(name: string, memory: string, annotations: Record<string, string> = {}): V1Pod {
  const p = pod('ml', name, 'node-a', { labels: enabled, annotations });
  p.spec!.containers[0]!.resources = { requests: { memory } };
  return p;
}

interface Handled {
  node: string;
  pods: Array<{ pod: string; outcome: string; reason?: string; error?: { code: string; message: string } }>;
}

describe('the deadline planner (preemption function, loopback)', () => {
  let kube: FakeKube;
  let agent: FakeAgent;
  let sink: Sink;

  before(async () => {
    [kube, agent, sink] = await Promise.all([startFakeKube(), startFakeAgent('node-a'), startSink()]);
    kube.nodes = [node('node-a', 'aws:///us-east-2a/i-0aaaaaaaaaaaaaaaa')];
    kube.pods = [
      agentPod('agent-a', 'node-a', agent.address),
      sized('big', '8Gi'),
      sized('small', '1Gi'),
      sized('critical', '6Gi', { 'snapback.io/priority': '10' }),
      sized('typo', '1Gi', { 'snapback.io/priority': 'urgent' }),
    ];
  });
  after(async () => {
    await Promise.all([kube.close(), agent.close(), sink.close()]);
  });

  it('a deadline that holds only some checkpoints: those start by priority, the rest are skipped with why', async () => {
    // 1 GiB/s and 10 s before the deadline's safety margin: 10 GiB. critical (6) and small (1) fit; big (8) not.
    const fns = await startClusterFunctions(kube, {
      sink: sink.url,
      fanOut: { concurrency: 1, safetyMarginMs: 10_000, defaultThroughputBytesPerSecond: GiB },
    });
    try {
      const res = await postBinary(
        `${fns.url}/preemption`,
        { specversion: '1.0', id: 'plan-1', source: '/t', type: 'io.snapback.preemption.noticed' },
        { node: 'node-a', deadline: new Date(Date.now() + 20_000).toISOString() },
      );
      assert.equal(res.status, 202);
    } finally {
      await fns.close();
    }
    assert.deepEqual(
      agent.checkpoints.map((c) => c.request.target?.pod),
      ['critical', 'small'],
    );
    const handled = sink.received.find((r) => r.headers['ce-type'] === 'io.snapback.preemption.handled')
      ?.body as Handled;
    const byPod = new Map(handled.pods.map((p) => [p.pod, p]));
    assert.equal(byPod.get('critical')?.outcome, 'checkpointed');
    assert.equal(byPod.get('small')?.outcome, 'checkpointed');
    assert.equal(byPod.get('big')?.outcome, 'skipped');
    assert.match(
      byPod.get('big')?.reason ?? '',
      /^cannot finish before the deadline: its 8\.0 GiB \(estimated from its memory and GPUs\), after the 7\.0 GiB ranked before it, need 15\.0 s at 1\.0 GiB\/s; \d+\.\d+ s left$/,
    );
    assert.equal(byPod.get('typo')?.outcome, 'failed');
    assert.equal(byPod.get('typo')?.error?.code, 'INVALID_ARGUMENT');
    assert.match(byPod.get('typo')?.error?.message ?? '', /annotation snapback\.io\/priority: "urgent"/);
    const failed = sink.received.filter((r) => r.headers['ce-type'] === 'io.snapback.checkpoint.failed');
    assert.deepEqual(
      failed.map((r) => (r.body as { pod: string }).pod),
      ['typo'],
    );
  });
});
