/**
 * Pods' hook annotations through the functions (cluster mode, loopback API server, fake agents): parsed and
 * sent to the agent with the checkpoint of that pod or the restore into that placeholder; a malformed one
 * fails that pod alone, with an error naming the annotation and the pod, and nothing reaches its agent;
 * preemptions ask for best effort; what the agent says of its hooks lands in the completion event.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { type FakeAgent, startFakeAgent } from '../helpers/fake-agent.js';
import { agentPod, type FakeKube, node, pod, startFakeKube } from '../helpers/fake-kube.js';
import { postBinary, type Sink, startClusterFunctions, startSink } from '../helpers/functions-env.js';
import { awsSpotWarning } from '../helpers/notices.js';

const enabled = { 'snapback.io/enabled': 'true' };
const SLEEP = 'http POST :8000/sleep?level=1 timeout=2m';
const WAKE = 'exec ["/app/wake","--now"] timeout=10s';

describe('hook annotations through the functions (cluster mode, loopback)', () => {
  let kube: FakeKube;
  let agent: FakeAgent;
  let sink: Sink;
  let fns: Awaited<ReturnType<typeof startClusterFunctions>> | undefined;

  before(async () => {
    [kube, agent, sink] = await Promise.all([startFakeKube(), startFakeAgent('node-a'), startSink()]);
  });
  after(async () => {
    await Promise.all([kube.close(), agent.close(), sink.close()]);
  });
  beforeEach(() => {
    kube.nodes = [node('node-a', 'aws:///us-east-2a/i-0aaaaaaaaaaaaaaaa')];
    kube.pods = [
      agentPod('agent-a', 'node-a', agent.address),
      pod('ml', 'llm-0', 'node-a', {
        labels: enabled,
        annotations: { 'snapback.io/pre-checkpoint': SLEEP, 'snapback.io/post-restore': WAKE },
      }),
      pod('ml', 'broken-0', 'node-a', {
        labels: enabled,
        annotations: { 'snapback.io/pre-checkpoint': 'http POST :0/sleep' },
      }),
      pod('ml', 'plain-0', 'node-a', { labels: enabled }),
      pod('ml', 'placeholder-0', 'node-a', {
        labels: enabled,
        annotations: { 'snapback.io/post-restore': 'http POST :9000/wake_up' },
      }),
    ];
    kube.events = [];
    sink.received.length = 0;
    agent.checkpoints.length = 0;
    agent.restores.length = 0;
    agent.behaviour = () => ({ kind: 'ok' });
  });
  afterEach(async () => {
    await fns?.close();
    fns = undefined;
  });

  const requested = (id: string, data: Record<string, unknown>, type = 'io.snapback.checkpoint.requested') =>
    postBinary(fns!.url, { specversion: '1.0', id, source: '/tests', type }, data);

  for (const resolution of ['informers', 'list'] as const)
    it(`a checkpoint request sends the pod's annotations as hooks, not best effort unless asked (${resolution})`, async () => {
      fns = await startClusterFunctions(kube, { resolution });
      const res = await requested('c-1', { namespace: 'ml', pod: 'llm-0' });
      assert.equal(res.status, 200);
      const [call] = agent.checkpoints;
      assert.deepEqual(call?.request.hooks, {
        preCheckpoint: {
          http: { method: 'POST', host: '127.0.0.1', port: 8000, path: '/sleep?level=1' },
          exec: undefined,
          timeoutMs: 120_000,
        },
        postRestore: { http: undefined, exec: { command: ['/app/wake', '--now'] }, timeoutMs: 10_000 },
      });
      assert.equal(call?.request.bestEffortHooks, false);
      await requested('c-2', { namespace: 'ml', pod: 'plain-0', bestEffortHooks: true });
      assert.equal(agent.checkpoints[1]?.request.hooks, undefined, 'no annotation, no hooks');
      assert.equal(agent.checkpoints[1]?.request.bestEffortHooks, true);
    });

  it('a malformed annotation fails that checkpoint, naming the annotation and the pod; the agent is not called', async () => {
    fns = await startClusterFunctions(kube);
    const res = await requested('c-3', { namespace: 'ml', pod: 'broken-0' });
    assert.equal(res.headers.get('ce-type'), 'io.snapback.checkpoint.failed');
    const data = (await res.json()) as { error: { code: string; phase: string; message: string } };
    assert.equal(data.error.code, 'INVALID_ARGUMENT');
    assert.equal(data.error.phase, 'resolve');
    assert.match(
      data.error.message,
      /^annotation snapback\.io\/pre-checkpoint of pod ml\/broken-0 "http POST :0\/sleep": port must be a port number/,
    );
    assert.equal(agent.checkpoints.length, 0);
  });

  it('a spot warning checkpoints every pod with best-effort hooks; the malformed one alone fails', async () => {
    fns = await startClusterFunctions(kube, { sink: sink.url });
    const res = await postBinary(
      `${fns.url}/preemption`,
      { specversion: '1.0', id: 'spot-1', source: 'aws.ec2', type: 'com.amazon.eventbridge.ec2' },
      awsSpotWarning('i-0aaaaaaaaaaaaaaaa', new Date().toISOString()),
    );
    assert.equal(res.status, 202);
    assert.deepEqual(agent.checkpoints.map((c) => c.request.target?.pod).sort(), [
      'llm-0',
      'placeholder-0',
      'plain-0',
    ]);
    assert.ok(agent.checkpoints.every((c) => c.request.bestEffortHooks));
    const handled = sink.received.find((r) => r.headers['ce-type'] === 'io.snapback.preemption.handled')!
      .body as { pods: Array<{ pod: string; outcome: string; error?: { message: string } }> };
    const broken = handled.pods.find((p) => p.pod === 'broken-0');
    assert.equal(broken?.outcome, 'failed');
    assert.match(broken?.error?.message ?? '', /annotation snapback\.io\/pre-checkpoint of pod ml\/broken-0/);
  });

  it("what the agent says of its hooks reaches the completion event's notes", async () => {
    fns = await startClusterFunctions(kube);
    agent.behaviour = () => ({
      kind: 'ok',
      said: [{ phase: 'preHook', message: 'skipped: its timeout of 120000 ms does not fit' }],
    });
    const res = await requested('c-4', { namespace: 'ml', pod: 'llm-0' });
    const data = (await res.json()) as { notes?: string[]; durations: Record<string, number> };
    assert.deepEqual(data.notes, ['preHook: skipped: its timeout of 120000 ms does not fit']);
  });

  it("a restore sends the placeholder pod's post-restore hook, and none when it declares none", async () => {
    fns = await startClusterFunctions(kube);
    await requested(
      'r-1',
      { checkpointId: 'llm', namespace: 'ml', pod: 'placeholder-0' },
      'io.snapback.restore.requested',
    );
    assert.equal(agent.restores[0]?.hooks?.postRestore?.http?.port, 9000);
    await requested(
      'r-2',
      { checkpointId: 'llm', namespace: 'ml', pod: 'plain-0' },
      'io.snapback.restore.requested',
    );
    assert.equal(agent.restores[1]?.hooks, undefined, "the agent runs the checkpoint's own");
  });
});
