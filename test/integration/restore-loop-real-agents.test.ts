/**
 * The loop closed with nothing faked but the cluster: the loopback API server (driven by the real
 * client-node), an ApiServerSource stand-in of the restore source, the functions, and two real agents
 * (each its own node, one shared checkpoint storage) running real CRIU under the process runtime, where a
 * pod's name is its workload's: a restore into pod B starts workload B.
 * A spot notice checkpoints pod A of Deployment d (its ReplicaSet followed to d); pod A's node dies; pod B
 * of the same ReplicaSet appears on the other node, labelled `snapback.io/restore: latest`, and is restored
 * from A's checkpoint with A's memory — once, though twenty more deliveries of it arrive meanwhile — its
 * readiness condition True, its annotation and a Kubernetes Event saying so. A pod of another image is not
 * restored from it, and the first pod, before any checkpoint, starts cold: StartCold under the process
 * runtime has no init to tell (FAILED_PRECONDITION), and the status and condition are set all the same.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type AgentProcess,
  startAgent,
  startStatefulWorkload,
  workloadHash,
} from '../helpers/agent-process.js';
import { type ApiServerSourceStandIn, startApiServerSource } from '../helpers/apiserver-source.js';
import { agentPod, type FakeKube, node, replicaSet, startFakeKube } from '../helpers/fake-kube.js';
import { postBinary, type Sink, startClusterFunctions, startSink } from '../helpers/functions-env.js';
import { awsSpotWarning } from '../helpers/notices.js';
import { isRunning, killProcessesMentioning, waitFor } from '../helpers/proc.js';
import {
  decided,
  eventsOn,
  IMAGE,
  OTHER_IMAGE,
  podNow,
  RESTORE_EXTENSIONS,
  RESTORE_SOURCE,
  replica,
  restoredCondition,
} from '../helpers/replacement-pods.js';

const enabled = { 'snapback.io/enabled': 'true' };
const [A, B, C] = ['d-7c9-aaaaa', 'd-7c9-bbbbb', 'd-5f1-ccccc'];

describe('the restore loop through the functions to real agents (real CRIU, shared storage)', () => {
  let root: string;
  let kube: FakeKube;
  let sink: Sink;
  let agentA: AgentProcess;
  let agentB: AgentProcess;
  let fns: Awaited<ReturnType<typeof startClusterFunctions>>;
  let source: ApiServerSourceStandIn;
  let outA: string;
  let pidA: number;
  let checkpointId: string;

  const received = (type: string) => sink.received.filter((r) => r.headers['ce-type'] === type);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'snapback-loop-'));
    const storage = join(root, 'shared');
    [kube, sink, agentA, agentB] = await Promise.all([
      startFakeKube(),
      startSink(),
      startAgent({ dir: join(root, 'node-a'), node: 'node-a', storage }),
      startAgent({ dir: join(root, 'node-b'), node: 'node-b', storage }),
    ]);
    kube.nodes = [
      node('node-a', 'aws:///us-east-2a/i-0aaaaaaaaaaaaaaaa'),
      node('node-b', 'aws:///us-east-2b/i-0bbbbbbbbbbbbbbbb'),
    ].map((n) => ({ ...n, metadata: { ...n.metadata, labels: { 'kubernetes.io/arch': 'amd64' } } }));
    kube.replicaSets = [replicaSet('ml', 'd-7c9', 'd'), replicaSet('ml', 'd-5f1', 'd')];
    ({ pid: pidA, out: outA } = await startStatefulWorkload(agentA, A, 8));
    kube.pods = [
      agentPod('agent-a', 'node-a', agentA.address),
      agentPod('agent-b', 'node-b', agentB.address),
      // The Deployment's first pod: its template opts in to checkpoints and to restore.
      replica(A, 'node-a', { labels: enabled }),
    ];
    fns = await startClusterFunctions(kube, { sink: sink.url });
    source = await startApiServerSource(kube, fns.url, [RESTORE_SOURCE], { extensions: RESTORE_EXTENSIONS });
  });
  after(async () => {
    source?.stop();
    await fns?.close();
    for (const agent of [agentA, agentB]) await agent?.shutdown().catch(() => {});
    // Restored copies write where their source did, below root: none may outlive the suite.
    await killProcessesMentioning(root);
    await Promise.all([kube?.close(), sink?.close()]);
    await rm(root, { recursive: true, force: true, maxRetries: 5 });
  });

  it('the first pod, with no checkpoint yet, starts cold: status and condition set, nothing to tell its init', async () => {
    const status = await waitFor(`${A} to be decided`, () => decided(kube, A), 30_000);
    await source.settled();
    assert.equal(status, 'cold: no checkpoint of Deployment ml/d, container main yet');
    assert.equal(restoredCondition(kube, A)?.reason, 'StartedCold');
    assert.ok(eventsOn(kube, A).some((e) => e.startsWith('StartedCold:')));
    assert.ok(await isRunning(pidA), 'its workload runs on');
  });

  it("a spot notice checkpoints pod A, recording Deployment d; A's replacement B on the other node is restored from it once, with A's memory", async () => {
    const res = await postBinary(
      fns.url,
      { specversion: '1.0', id: 'spot-a', source: 'aws.ec2', type: 'com.amazon.eventbridge.ec2' },
      awsSpotWarning('i-0aaaaaaaaaaaaaaaa', new Date().toISOString()),
    );
    assert.equal(res.status, 202);
    const completed = received('io.snapback.checkpoint.completed');
    assert.equal(completed.length, 1, JSON.stringify(sink.received.map((r) => r.body)));
    checkpointId = String((completed[0]!.body as { checkpointId: string }).checkpointId);
    const manifest = JSON.parse((await agentA.client.getCheckpoint({ checkpointId })).manifestJson) as {
      identity: unknown;
    };
    assert.deepEqual(manifest.identity, {
      namespace: 'ml',
      owner: { kind: 'Deployment', name: 'd' },
      container: 'main',
      image: IMAGE,
      gpus: { count: 0 },
      arch: 'amd64',
    });

    // Node A goes: its workload dies, its pod is gone; the ReplicaSet makes B on node B.
    const hash = await workloadHash(outA);
    await agentA.client.stopWorkload({ name: A });
    await waitFor(`${A} to die`, async () => !(await isRunning(pidA)));
    kube.finishDeletion('ml', A);
    kube.pods = [...kube.pods, replica(B, 'node-b', { labels: enabled })];
    // Twenty more deliveries of B, as a source and the broker's retries may send them, while it is restored.
    const sent = { ...structuredClone(podNow(kube, B)), apiVersion: 'v1', kind: 'Pod' };
    const duplicates = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        postBinary(
          fns.url,
          {
            specversion: '1.0',
            id: `dup-${i}`,
            source: kube.url,
            type: `dev.knative.apiserver.resource.${i % 2 === 0 ? 'add' : 'update'}`,
            ...RESTORE_EXTENSIONS,
          },
          sent,
        ),
      ),
    );
    assert.deepEqual(
      duplicates.map((d) => d.status).filter((s) => s >= 300),
      [],
    );
    const status = await waitFor(`${B} to be decided`, () => decided(kube, B), 60_000);
    await source.settled();
    assert.equal(status, `restored ${checkpointId}`);
    const condition = restoredCondition(kube, B);
    assert.equal(condition?.reason, 'Restored');
    assert.ok(eventsOn(kube, B).some((e) => e.startsWith(`Restored: restored ${checkpointId}`)));
    const { workloads } = await agentB.client.listWorkloads({});
    const restored = workloads.filter((w) => w.name === B);
    assert.equal(restored.length, 1);
    assert.equal(restored[0]!.restoredFrom, checkpointId);
    assert.equal(await workloadHash(outA), hash, 'B runs with the memory A had');
    assert.equal(received('io.snapback.restore.completed').length, 1, 'one restore');
    assert.deepEqual(received('io.snapback.restore.failed'), []);
    const restores = agentB
      .logs()
      .split('\n')
      .filter((l) => l.includes('"restore complete"') || l.includes('"restore failed"'));
    assert.equal(restores.length, 1, restores.join('\n'));
  });

  it('a pod of another image of the same Deployment is not restored from it: cold, saying why', async () => {
    kube.pods = [...kube.pods, replica(C, 'node-b', { replicaSet: 'd-5f1', image: OTHER_IMAGE })];
    const status = await waitFor(`${C} to be decided`, () => decided(kube, C), 30_000);
    await source.settled();
    assert.equal(
      status,
      `cold: no checkpoint of Deployment ml/d, container main fits this pod (${checkpointId}: image ${IMAGE}, the pod runs ${OTHER_IMAGE})`,
    );
    assert.equal(restoredCondition(kube, C)?.reason, 'StartedCold');
    const { workloads } = await agentB.client.listWorkloads({});
    assert.ok(!workloads.some((w) => w.name === C), 'nothing was restored into it');
    assert.ok(eventsOn(kube, C).some((e) => e.startsWith('StartedCold:')));
    assert.ok(source.deliveries.every((d) => d.status >= 200 && d.status < 300));
  });
});
