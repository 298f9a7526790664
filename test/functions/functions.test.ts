/**
 * The functions end to end on loopback: a Kubernetes API stand-in driven by the real client-node, fake
 * agents that are real gRPC servers, a sink, and the express app posting real binary/structured events.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { type FakeAgent, startFakeAgent } from '../helpers/fake-agent.js';
import { agentPod, type FakeKube, node, pod, startFakeKube } from '../helpers/fake-kube.js';
import { postBinary, type Sink, startClusterFunctions, startSink } from '../helpers/functions-env.js';
import { awsSpotWarning } from '../helpers/notices.js';

const enabled = { 'snapback.io/enabled': 'true' };
type Data = Record<string, unknown> & {
  durations: Record<string, number>;
  error?: { code: string; phase: string };
};

describe('event functions (cluster mode, loopback)', () => {
  let kube: FakeKube;
  let agentA: FakeAgent;
  let agentB: FakeAgent;
  let sink: Sink;
  let fns: Awaited<ReturnType<typeof startClusterFunctions>> | undefined;

  before(async () => {
    [kube, agentA, agentB, sink] = await Promise.all([
      startFakeKube(),
      startFakeAgent('node-a'),
      startFakeAgent('node-b'),
      startSink(),
    ]);
  });
  after(async () => {
    await Promise.all([kube.close(), agentA.close(), agentB.close(), sink.close()]);
  });
  beforeEach(() => {
    kube.nodes = [
      node('node-a', 'aws:///us-east-2a/i-0aaaaaaaaaaaaaaaa'),
      node('node-b', 'aws:///us-east-2b/i-0bbbbbbbbbbbbbbbb'),
    ];
    kube.pods = [
      agentPod('agent-a', 'node-a', agentA.address),
      agentPod('agent-b', 'node-b', agentB.address),
      pod('ml', 'trainer-0', 'node-a', {
        labels: enabled,
        containers: ['sidecar', 'train'],
        annotations: { 'snapback.io/container': 'train' },
      }),
      pod('ml', 'trainer-1', 'node-a', { labels: enabled }),
      pod('ml', 'web-0', 'node-a'),
      pod('ml', 'trainer-2', 'node-b', { labels: enabled }),
    ];
    kube.events = [];
    sink.received.length = 0;
    for (const a of [agentA, agentB]) {
      a.checkpoints.length = 0;
      a.restores.length = 0;
      a.behaviour = () => ({ kind: 'ok' });
    }
  });
  afterEach(async () => {
    await fns?.close();
    fns = undefined;
  });

  it('AWS spot warning: every opted-in pod on that node is checkpointed, none elsewhere; the sink gets durations', async () => {
    fns = await startClusterFunctions(kube, { sink: sink.url });
    const time = new Date().toISOString();
    const res = await postBinary(
      `${fns.url}/preemption`,
      {
        specversion: '1.0',
        id: 'spot-1',
        source: 'aws.ec2',
        type: 'com.amazon.eventbridge.ec2',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
      awsSpotWarning('i-0aaaaaaaaaaaaaaaa', time),
    );
    assert.equal(res.status, 202);
    assert.deepEqual(
      agentA.checkpoints.map((c) => `${c.request.target?.pod}/${c.request.target?.container}`).sort(),
      ['trainer-0/train', 'trainer-1/main'],
    );
    assert.equal(agentB.checkpoints.length, 0);
    for (const c of agentA.checkpoints) {
      const deadlineMs = Number(c.deadline);
      assert.ok(
        deadlineMs <= Date.parse(time) + 120_000 - 10_000 + 250,
        `deadline minus the safety margin: ${deadlineMs} vs ${Date.parse(time) + 110_000}`,
      );
      assert.equal(
        c.metadata.get('traceparent')[0],
        '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      );
    }
    const types = sink.received.map((r) => r.headers['ce-type']);
    assert.deepEqual(types.sort(), [
      'io.snapback.checkpoint.completed',
      'io.snapback.checkpoint.completed',
      'io.snapback.preemption.handled',
    ]);
    for (const r of sink.received.filter(
      (x) => x.headers['ce-type'] === 'io.snapback.checkpoint.completed',
    )) {
      const data = r.body as Data;
      for (const phase of ['dispatch', 'inspect', 'criuDump', 'total'])
        assert.equal(typeof data.durations[phase], 'number', phase);
      assert.equal(data['sizeBytes'], 4096);
      assert.equal(r.headers['ce-traceparent'], '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    }
    const handled = sink.received.find((r) => r.headers['ce-type'] === 'io.snapback.preemption.handled')!
      .body as { node: string; pods: Array<{ pod: string; outcome: string }> };
    assert.equal(handled.node, 'node-a');
    assert.deepEqual(handled.pods.map((p) => `${p.pod}:${p.outcome}`).sort(), [
      'trainer-0:checkpointed',
      'trainer-1:checkpointed',
    ]);
    assert.deepEqual(kube.events.map((e) => `${e.involvedObject.name}:${e.reason}`).sort(), [
      'trainer-0:Checkpointed',
      'trainer-1:Checkpointed',
    ]);
  });

  it('duplicate delivery ×20 → one dispatch, the same completion event', async () => {
    fns = await startClusterFunctions(kube);
    agentA.behaviour = () => ({ kind: 'ok', delayMs: 50 });
    const send = () =>
      postBinary(
        fns!.url,
        { specversion: '1.0', id: 'req-7', source: '/tests', type: 'io.snapback.checkpoint.requested' },
        { namespace: 'ml', pod: 'trainer-1' },
      );
    const replies = await Promise.all(Array.from({ length: 20 }, send));
    assert.equal(agentA.checkpoints.length, 1);
    const ids = new Set(replies.map((r) => r.headers.get('ce-id')));
    assert.equal(ids.size, 1);
    assert.ok(
      replies.every(
        (r) => r.status === 200 && r.headers.get('ce-type') === 'io.snapback.checkpoint.completed',
      ),
    );
    const again = await send();
    assert.equal(again.headers.get('ce-id'), [...ids][0]);
    assert.equal(agentA.checkpoints.length, 1);
  });

  it('invalid events → 400 naming each field, nothing dispatched, the process keeps serving', async () => {
    fns = await startClusterFunctions(kube);
    const bad = await postBinary(
      fns.url,
      { specversion: '1.0', id: 'x', source: '/t', type: 'io.snapback.checkpoint.requested' },
      { pod: 'UPPER', leaveRunning: 'yes' },
    );
    assert.equal(bad.status, 400);
    const body = (await bad.json()) as { error: { details: Array<{ field: string }> } };
    assert.deepEqual(body.error.details.map((d) => d.field).sort(), [
      'data.leaveRunning',
      'data.namespace',
      'data.pod',
    ]);
    const noId = await postBinary(
      fns.url,
      { specversion: '1.0', source: '/t', type: 'io.snapback.checkpoint.requested' },
      { namespace: 'ml', pod: 'trainer-1' },
    );
    assert.equal(noId.status, 400);
    assert.match(await noId.text(), /ce-id/);
    const unsupported = await fetch(fns.url, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+avro' },
      body: 'x',
    });
    assert.equal(unsupported.status, 415);
    const big = await fetch(fns.url, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }),
    });
    assert.equal(big.status, 413);
    const batch = await fetch(fns.url, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify([
        {
          specversion: '1.0',
          id: 'b1',
          source: '/t',
          type: 'io.snapback.checkpoint.requested',
          data: { namespace: 'ml', pod: 'trainer-1' },
        },
        {
          specversion: '1.0',
          id: 'b2',
          source: '/t',
          type: 'io.snapback.checkpoint.requested',
          data: { namespace: 'ml' },
        },
      ]),
    });
    assert.equal(batch.status, 400);
    assert.match(await batch.text(), /events\[1\]\.data\.pod/);
    assert.equal(agentA.checkpoints.length + agentB.checkpoints.length, 0);
    assert.equal((await fetch(`${fns.url}/health/readiness`)).status, 200);
  });

  it('agent down → failed event with UNAVAILABLE, no crash', async () => {
    kube.pods.find((p) => p.metadata?.name === 'agent-a')!.spec!.containers[0]!.ports = [
      { name: 'grpc', containerPort: 1 },
    ];
    fns = await startClusterFunctions(kube);
    const res = await postBinary(
      fns.url,
      { specversion: '1.0', id: 'down-1', source: '/t', type: 'io.snapback.checkpoint.requested' },
      { namespace: 'ml', pod: 'trainer-1' },
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('ce-type'), 'io.snapback.checkpoint.failed');
    const data = (await res.json()) as Data;
    assert.equal(data.error?.code, 'UNAVAILABLE');
    assert.equal(data.error?.phase, 'dispatch');
    assert.equal(typeof data.durations['total'], 'number');
    assert.equal((await fetch(`${fns.url}/health/liveness`)).status, 200);
    assert.ok(kube.events.some((e) => e.reason === 'CheckpointFailed' && e.type === 'Warning'));
  });

  it('an agent failure keeps its status and phase; restore is dispatched; metrics count outcomes', async () => {
    fns = await startClusterFunctions(kube);
    agentA.behaviour = () => ({
      kind: 'fail',
      code: grpc.status.FAILED_PRECONDITION,
      phase: 'criuDump',
      message: 'criu dump failed',
    });
    const res = await postBinary(
      fns.url,
      { specversion: '1.0', id: 'f-1', source: '/t', type: 'io.snapback.checkpoint.requested' },
      { namespace: 'ml', pod: 'trainer-0', checkpointId: 'trainer-0-x' },
    );
    const data = (await res.json()) as Data;
    assert.deepEqual(data.error, {
      code: 'FAILED_PRECONDITION',
      phase: 'criuDump',
      message: 'criu dump failed',
    });
    agentB.behaviour = () => ({ kind: 'ok' });
    const restored = await postBinary(
      `${fns.url}/restore`,
      { specversion: '1.0', id: 'r-1', source: '/t', type: 'io.snapback.restore.requested' },
      { checkpointId: 'trainer-0-x', namespace: 'ml', pod: 'trainer-2' },
    );
    assert.equal(restored.headers.get('ce-type'), 'io.snapback.restore.completed');
    assert.equal(((await restored.json()) as Data)['restoredPid'], 4242);
    assert.equal(agentB.restores[0]?.checkpointId, 'trainer-0-x');
    const metrics = await (await fetch(`${fns.url}/metrics`)).text();
    assert.match(metrics, /snapback_function_outcomes_total\{operation="checkpoint",outcome="failed"\} 1/);
    assert.match(
      metrics,
      /snapback_phase_duration_seconds_bucket\{le="[^"]+",operation="restore",phase="criuRestore"\}/,
    );
  });

  it('a notice whose deadline has passed reports every pod as skipped, not dropped', async () => {
    fns = await startClusterFunctions(kube);
    const res = await postBinary(
      `${fns.url}/preemption`,
      { specversion: '1.0', id: 'late-1', source: '/t', type: 'io.snapback.preemption.noticed' },
      { node: 'node-a', deadline: new Date(Date.now() + 5_000).toISOString() },
    );
    assert.equal(res.headers.get('ce-type'), 'io.snapback.preemption.handled');
    const handled = (await res.json()) as { pods: Array<{ outcome: string; reason: string }> };
    assert.deepEqual(
      handled.pods.map((p) => p.outcome),
      ['skipped', 'skipped'],
    );
    assert.match(handled.pods[0]!.reason, /too late/);
    assert.equal(agentA.checkpoints.length, 0);
  });
});
