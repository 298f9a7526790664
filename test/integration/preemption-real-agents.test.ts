/**
 * The whole path with nothing faked but the cluster: a Kubernetes API stand-in on loopback (driven by the
 * real client-node), the functions, two real agents over gRPC and real CRIU workloads. A spot warning for
 * one node checkpoints every opted-in workload there and nothing elsewhere; a restore request brings one
 * back with its state; duplicate deliveries checkpoint once; a dead agent is a `failed` event; a pod's
 * preStop hook, through its relay, is answered once its workload's checkpoint is on the agent's storage.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { silentLogger } from '../../src/log.js';
import { startPreStopRelay } from '../../src/prestop/relay.js';
import {
  type AgentProcess,
  startAgent,
  startStatefulWorkload,
  workloadHash,
} from '../helpers/agent-process.js';
import { agentPod, type FakeKube, node, pod, startFakeKube } from '../helpers/fake-kube.js';
import { postBinary, type Sink, startClusterFunctions, startSink } from '../helpers/functions-env.js';
import { awsSpotWarning } from '../helpers/notices.js';
import { isRunning, waitFor } from '../helpers/proc.js';

const enabled = { 'snapback.io/enabled': 'true' };
type Received = { type: string; data: Record<string, unknown> & { durations?: Record<string, number> } };

describe('preemption through the functions to real agents (real CRIU)', () => {
  let kube: FakeKube;
  let sink: Sink;
  let agentA: AgentProcess;
  let agentB: AgentProcess;
  let fns: Awaited<ReturnType<typeof startClusterFunctions>>;
  const outs: Record<string, string> = {};
  const pids: Record<string, number> = {};

  const events = (): Received[] =>
    sink.received.map((r) => ({ type: String(r.headers['ce-type']), data: r.body as Received['data'] }));

  async function workload(agent: AgentProcess, name: string): Promise<void> {
    const { pid, out } = await startStatefulWorkload(agent, name, 8);
    [pids[name], outs[name]] = [pid, out];
  }

  before(async () => {
    [kube, sink, agentA, agentB] = await Promise.all([
      startFakeKube(),
      startSink(),
      startAgent(),
      startAgent(),
    ]);
    kube.nodes = [
      node('node-a', 'aws:///us-east-2a/i-0aaaaaaaaaaaaaaaa'),
      node('node-b', 'aws:///us-east-2b/i-0bbbbbbbbbbbbbbbb'),
    ];
    kube.pods = [
      agentPod('agent-a', 'node-a', agentA.address),
      agentPod('agent-b', 'node-b', agentB.address),
      pod('ml', 'train-a', 'node-a', { labels: enabled }),
      pod('ml', 'train-b', 'node-a', { labels: enabled }),
      pod('ml', 'web', 'node-a'),
      pod('ml', 'train-c', 'node-b', { labels: enabled }),
    ];
    await Promise.all([
      workload(agentA, 'train-a'),
      workload(agentA, 'train-b'),
      workload(agentA, 'web'),
      workload(agentB, 'train-c'),
    ]);
    fns = await startClusterFunctions(kube, { sink: sink.url });
  });
  after(async () => {
    await fns.close();
    for (const [agent, names] of [
      [agentA, ['train-a', 'train-b', 'web']],
      [agentB, ['train-c', 'train-d']],
    ] as const) {
      for (const name of names) await agent.client.stopWorkload({ name }).catch(() => {});
      await agent.stop();
      await agent.cleanup();
    }
    await Promise.all([kube.close(), sink.close()]);
  });

  it('checkpoints every opted-in workload on the warned node, and only those', async () => {
    const hash = await workloadHash(outs['train-a']!);
    const res = await postBinary(
      fns.url,
      { specversion: '1.0', id: 'spot-a-1', source: 'aws.ec2', type: 'com.amazon.eventbridge.ec2' },
      awsSpotWarning('i-0aaaaaaaaaaaaaaaa', new Date().toISOString()),
    );
    assert.equal(res.status, 202);
    const completed = events().filter((e) => e.type === 'io.snapback.checkpoint.completed');
    assert.deepEqual(completed.map((e) => e.data['pod']).sort(), ['train-a', 'train-b']);
    for (const e of completed) {
      for (const phase of ['dispatch', 'inspect', 'criuDump', 'promote', 'total']) {
        assert.ok(
          typeof e.data.durations?.[phase] === 'number',
          `${phase} in ${JSON.stringify(e.data.durations)}`,
        );
      }
      assert.ok(Number(e.data['sizeBytes']) > 8 * 1024 * 1024);
    }
    const handled = events().find((e) => e.type === 'io.snapback.preemption.handled');
    assert.ok(handled, 'a preemption.handled summary arrives');
    const { checkpoints: onB } = await agentB.client.listCheckpoints({});
    assert.deepEqual(onB, [], 'nothing was checkpointed on the other node');
    const { checkpoints: onA } = await agentA.client.listCheckpoints({});
    assert.equal(onA.length, 2, 'web did not opt in');
    assert.ok(await isRunning(pids['train-a']!), 'a checkpoint leaves the workload running');

    // The node "dies": the workload is gone; a restore request brings it back with its memory.
    const checkpointId = String(completed.find((e) => e.data['pod'] === 'train-a')!.data['checkpointId']);
    await agentA.client.stopWorkload({ name: 'train-a' });
    await waitFor('train-a to die', async () => !(await isRunning(pids['train-a']!)));
    const restore = await postBinary(
      fns.url,
      { specversion: '1.0', id: 'restore-a-1', source: 'test', type: 'io.snapback.restore.requested' },
      { checkpointId, namespace: 'ml', pod: 'train-a' },
    );
    assert.equal(restore.status, 202);
    const restored = events().find((e) => e.type === 'io.snapback.restore.completed');
    assert.ok(restored, JSON.stringify(events().map((e) => e.type)));
    assert.ok(typeof restored.data.durations?.['criuRestore'] === 'number');
    assert.ok(await isRunning(Number(restored.data['restoredPid'])));
    assert.equal(await workloadHash(outs['train-a']!), hash, 'the restored workload has the same memory');
  });

  it('restores lazily on request: restore.completed when it runs, restore.pages-complete when every page is in', async () => {
    const { checkpoints } = await agentA.client.listCheckpoints({});
    const checkpointId = checkpoints.find(
      (c) => JSON.parse(c.manifestJson).target.pod === 'train-b',
    )!.checkpointId;
    const hash = await workloadHash(outs['train-b']!);
    await agentA.client.stopWorkload({ name: 'train-b' });
    await waitFor('train-b to die', async () => !(await isRunning(pids['train-b']!)));
    sink.received.length = 0;
    const res = await postBinary(
      fns.url,
      { specversion: '1.0', id: 'restore-b-lazy', source: 'test', type: 'io.snapback.restore.requested' },
      { checkpointId, namespace: 'ml', pod: 'train-b', lazy: true },
    );
    assert.equal(res.status, 202);
    const completed = events().find((e) => e.type === 'io.snapback.restore.completed');
    assert.ok(typeof completed?.data.durations?.['firstRun'] === 'number', JSON.stringify(completed?.data));
    const pages = await waitFor('the pages-complete event', () =>
      events().find((e) => e.type === 'io.snapback.restore.pages-complete'),
    );
    assert.ok(typeof pages.data.durations?.['pagesComplete'] === 'number', JSON.stringify(pages.data));
    assert.equal(pages.data['restoredPid'], completed!.data['restoredPid']);
    assert.equal(await workloadHash(outs['train-b']!), hash);
  });

  it('checkpoints once for twenty deliveries of the same notice', async () => {
    sink.received.length = 0;
    const time = new Date().toISOString();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        postBinary(
          fns.url,
          { specversion: '1.0', id: 'spot-a-dup', source: 'aws.ec2', type: 'com.amazon.eventbridge.ec2' },
          awsSpotWarning('i-0aaaaaaaaaaaaaaaa', time),
        ),
      ),
    );
    assert.ok(responses.every((r) => r.status === 202));
    const ids = new Set(
      events()
        .filter((e) => e.type === 'io.snapback.checkpoint.completed')
        .map((e) => String(e.data['checkpointId'])),
    );
    assert.equal(ids.size, 2, `one checkpoint per running opted-in workload: ${[...ids].join(', ')}`);
    for (const id of ids) assert.equal((await readdir(join(agentA.storage, id, 'versions'))).length, 1);
    const dumps = agentA
      .logs()
      .split('\n')
      .filter((l) => l.includes('"checkpoint complete"'));
    assert.equal(dumps.filter((l) => [...ids].some((id) => l.includes(id))).length, 2, 'each dumped once');
  });

  it('reports a dead agent as a failed event with UNAVAILABLE, and keeps serving', async () => {
    sink.received.length = 0;
    await agentB.client.stopWorkload({ name: 'train-c' });
    await agentB.stop();
    const res = await postBinary(
      fns.url,
      { specversion: '1.0', id: 'spot-b-1', source: 'aws.ec2', type: 'com.amazon.eventbridge.ec2' },
      awsSpotWarning('i-0bbbbbbbbbbbbbbbb', new Date().toISOString()),
    );
    assert.equal(res.status, 202);
    const failed = events().find((e) => e.type === 'io.snapback.checkpoint.failed');
    assert.ok(failed, JSON.stringify(events().map((e) => e.type)));
    assert.equal((failed.data['error'] as { code: string }).code, 'UNAVAILABLE');
    assert.equal((await fetch(`${fns.url}/health/liveness`)).status, 200);
    agentB = await startAgent({ dir: agentB.dir });
  });

  it("a pod's preStop hook through its relay: answered once the checkpoint is stored; the workload runs on", async () => {
    // The restarted agent of node-b listens elsewhere: its pod says so, as the DaemonSet's new pod would.
    kube.pods = [
      ...kube.pods.filter((p) => p.metadata?.name !== 'agent-b'),
      agentPod('agent-b', 'node-b', agentB.address),
      pod('ml', 'train-d', 'node-b', { labels: enabled }),
    ];
    await workload(agentB, 'train-d');
    const relay = await startPreStopRelay(
      { to: `${fns.url}/prestop`, namespace: 'ml', pod: 'train-d', timeoutMs: 120_000 },
      { host: '127.0.0.1', port: 0 },
      silentLogger(),
    );
    try {
      const kc = new KubeConfig();
      kc.loadFromFile(kube.kubeconfig);
      await kc.makeApiClient(CoreV1Api).deleteNamespacedPod({ name: 'train-d', namespace: 'ml' });
      const res = await fetch(`http://127.0.0.1:${relay.port}/prestop`);
      assert.equal(res.status, 200, await res.clone().text());
      const { checkpoint } = (await res.json()) as {
        checkpoint: { checkpointId: string; sizeBytes: number };
      };
      assert.ok(checkpoint.sizeBytes > 8 * 1024 * 1024);
      const { checkpoints } = await agentB.client.listCheckpoints({});
      assert.ok(
        checkpoints.some((c) => c.checkpointId === checkpoint.checkpointId),
        'stored when the hook is answered',
      );
      assert.ok(await isRunning(pids['train-d']!), 'the checkpoint leaves it running until SIGTERM');
    } finally {
      await relay.close();
    }
  });
});
