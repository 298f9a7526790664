/**
 * The restore loop on loopback with fake agents: a Deployment's replica labelled `snapback.io/restore`
 * appears (an ApiServerSource stand-in sends its add and updates, marked as the restore source marks them),
 * the restore function asks the agent of the pod's node for the checkpoint it takes and restores it, or
 * tells its init to start cold — and writes on the pod what happened: the `snapback.io/restored`
 * condition (its readiness gate), the `snapback.io/restore-status` annotation, a Kubernetes Event.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { type ApiServerSourceStandIn, startApiServerSource } from '../helpers/apiserver-source.js';
import { type FakeAgent, startFakeAgent } from '../helpers/fake-agent.js';
import { agentPod, type FakeKube, node, replicaSet, startFakeKube } from '../helpers/fake-kube.js';
import { type Sink, startClusterFunctions, startSink } from '../helpers/functions-env.js';
import { waitFor } from '../helpers/proc.js';
import {
  decided,
  deploymentIdentity,
  eventsOn,
  OTHER_IMAGE,
  RESTORE_EXTENSIONS,
  RESTORE_SOURCE,
  replica,
  restoredCondition,
} from '../helpers/replacement-pods.js';

describe('the restore loop (loopback API server, fake agents)', () => {
  let kube: FakeKube;
  let api: CoreV1Api;
  let agentA: FakeAgent;
  let agentB: FakeAgent;
  let sink: Sink;
  let fns: Awaited<ReturnType<typeof startClusterFunctions>>;
  let source: ApiServerSourceStandIn;

  const restored = () => agentB.restores.map((r) => `${r.target?.pod} <- ${r.checkpointId}`);
  const completions = (type: string) => sink.received.filter((r) => r.headers['ce-type'] === type);

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
    kube.nodes = [node('node-a', 'aws:///z/i-0a'), node('node-b', 'aws:///z/i-0b')].map((n) => ({
      ...n,
      metadata: { ...n.metadata, labels: { 'kubernetes.io/arch': 'amd64' } },
    }));
    kube.replicaSets = [replicaSet('ml', 'd-7c9', 'd'), replicaSet('ml', 'd-5f1', 'd')];
    kube.pods = [
      agentPod('agent-a', 'node-a', agentA.address),
      agentPod('agent-b', 'node-b', agentB.address),
    ];
    kube.events = [];
    sink.received.length = 0;
    for (const agent of [agentA, agentB]) {
      agent.restores.length = 0;
      agent.findLatest.length = 0;
      agent.startColds.length = 0;
      agent.stored = [];
      agent.passedOver = [];
      agent.startColdStatus = grpc.status.OK;
      agent.behaviour = () => ({ kind: 'ok' });
    }
    fns = await startClusterFunctions(kube, { sink: sink.url });
    source = await startApiServerSource(kube, fns.url, [RESTORE_SOURCE], { extensions: RESTORE_EXTENSIONS });
  });
  afterEach(async () => {
    source.stop();
    await fns.close();
  });

  /** Adds pods as their controller would, and waits until each is decided. */
  async function added(...pods: ReturnType<typeof replica>[]): Promise<string[]> {
    kube.pods = [...kube.pods, ...pods];
    const names = pods.map((p) => p.metadata!.name!);
    const statuses = await Promise.all(
      names.map((n) => waitFor(`${n} to be decided`, () => decided(kube, n))),
    );
    await source.settled();
    assert.ok(
      source.deliveries.every((d) => d.status >= 200 && d.status < 300),
      JSON.stringify(source.deliveries.filter((d) => d.status >= 300)),
    );
    return statuses;
  }

  it('restored from the latest checkpoint of its Deployment: condition True, annotation, Event; its node agent asked with its workload', async () => {
    agentB.stored = [{ checkpointId: 'ckpt-d-1', identity: deploymentIdentity() }];
    const [status] = await added(replica('d-7c9-b', 'node-b'));
    assert.equal(status, 'restored ckpt-d-1');
    assert.deepEqual(restored(), ['d-7c9-b <- ckpt-d-1']);
    assert.deepEqual(agentA.findLatest, [], 'the agent of the pod node is asked');
    assert.deepEqual(agentB.findLatest[0]?.identity, {
      namespace: 'ml',
      ownerKind: 'Deployment',
      ownerName: 'd',
      ordinal: undefined,
      container: 'main',
      image: deploymentIdentity().image,
      gpuCount: 0,
      gpuModel: '',
      arch: 'amd64',
    });
    const condition = restoredCondition(kube, 'd-7c9-b');
    assert.equal(condition?.reason, 'Restored');
    assert.match(condition?.message ?? '', /restored checkpoint ckpt-d-1 on node-b/);
    assert.ok(eventsOn(kube, 'd-7c9-b').some((e) => e.startsWith('Restored: restored ckpt-d-1')));
    assert.equal(completions('io.snapback.restore.completed').length, 1);
    assert.deepEqual(agentB.startColds, []);
  });

  it('nothing fits: started cold, the init told why, the status naming what was passed over; no init waiting is nothing to tell', async () => {
    agentB.passedOver = [`ckpt-d-2: image ${deploymentIdentity().image}, the pod runs ${OTHER_IMAGE}`];
    agentB.startColdStatus = grpc.status.FAILED_PRECONDITION;
    const [status] = await added(replica('d-5f1-c', 'node-b', { replicaSet: 'd-5f1', image: OTHER_IMAGE }));
    assert.match(
      status!,
      /^cold: no checkpoint of Deployment ml\/d, container main fits this pod \(ckpt-d-2: image/,
    );
    assert.deepEqual(restored(), []);
    assert.equal(agentB.startColds.length, 1);
    assert.match(agentB.startColds[0]!.reason, /^cold: no checkpoint/);
    assert.equal(agentB.startColds[0]!.target?.pod, 'd-5f1-c');
    assert.equal(restoredCondition(kube, 'd-5f1-c')?.reason, 'StartedCold');
    assert.ok(
      eventsOn(kube, 'd-5f1-c').some((e) => e.startsWith('StartedCold: started cold: no checkpoint')),
    );
    // No checkpoint at all.
    const [first] = await added(replica('d-7c9-first', 'node-a'));
    assert.equal(first, 'cold: no checkpoint of Deployment ml/d, container main yet');
  });

  it('a named checkpoint: restored when it fits; cold when it is of another image or not in the storage', async () => {
    agentB.stored = [
      { checkpointId: 'ckpt-old', identity: deploymentIdentity() },
      { checkpointId: 'ckpt-other', identity: deploymentIdentity(OTHER_IMAGE) },
    ];
    const statuses = await added(
      replica('d-7c9-named', 'node-b', { from: 'ckpt-old' }),
      replica('d-7c9-other', 'node-b', { from: 'ckpt-other' }),
      replica('d-7c9-gone', 'node-b', { from: 'ckpt-gone' }),
    );
    assert.deepEqual(statuses, [
      'restored ckpt-old',
      `cold: checkpoint ckpt-other does not fit: image ${OTHER_IMAGE}, the pod runs ${deploymentIdentity().image}`,
      'cold: checkpoint ckpt-gone is not in the storage',
    ]);
    assert.deepEqual(restored(), ['d-7c9-named <- ckpt-old']);
    assert.deepEqual(agentB.findLatest, [], 'a named checkpoint is not "latest"');
  });

  it('a failed restore: the init told to start cold, the pod Ready all the same, the status saying why', async () => {
    agentB.stored = [{ checkpointId: 'ckpt-d-1', identity: deploymentIdentity() }];
    agentB.behaviour = () => ({
      kind: 'fail',
      code: grpc.status.FAILED_PRECONDITION,
      phase: 'setup',
      message: 'the placeholder has no volume data',
    });
    const [status] = await added(replica('d-7c9-f', 'node-b'));
    assert.equal(
      status,
      'failed: restore of ckpt-d-1: FAILED_PRECONDITION in setup: the placeholder has no volume data, started cold',
    );
    assert.equal(agentB.startColds.length, 1);
    assert.equal(restoredCondition(kube, 'd-7c9-f')?.reason, 'RestoreFailed');
    assert.ok(eventsOn(kube, 'd-7c9-f').some((e) => e.startsWith('RestoreFailed:')));
    assert.equal(completions('io.snapback.restore.failed').length, 1);
  });

  it('until it is scheduled and its container started, its updates are answered 2xx and nothing is done; then once', async () => {
    agentB.stored = [{ checkpointId: 'ckpt-d-1', identity: deploymentIdentity() }];
    kube.pods = [...kube.pods, replica('d-7c9-p', '')];
    await waitFor('the add', () => source.deliveries.some((d) => d.name === 'd-7c9-p'));
    const scheduled = replica('d-7c9-p', 'node-b', { running: false });
    await api.patchNamespacedPod(
      { name: 'd-7c9-p', namespace: 'ml', body: { spec: { nodeName: 'node-b' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await api.patchNamespacedPodStatus(
      { name: 'd-7c9-p', namespace: 'ml', body: { status: scheduled.status } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    await waitFor('the updates', () => source.deliveries.filter((d) => d.name === 'd-7c9-p').length >= 3);
    await source.settled();
    assert.deepEqual(restored(), []);
    assert.deepEqual(agentB.findLatest, []);
    const running = replica('d-7c9-p', 'node-b');
    await api.patchNamespacedPodStatus(
      { name: 'd-7c9-p', namespace: 'ml', body: { status: running.status } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    assert.equal(await waitFor('d-7c9-p decided', () => decided(kube, 'd-7c9-p')), 'restored ckpt-d-1');
    await source.settled();
    assert.deepEqual(restored(), ['d-7c9-p <- ckpt-d-1']);
  });

  it('a label naming no checkpoint, a container that restarted already: cold, saying why; nothing restored', async () => {
    agentB.stored = [{ checkpointId: 'ckpt-d-1', identity: deploymentIdentity() }];
    const statuses = await added(
      replica('d-7c9-l', 'node-b', { from: 'Not_An_Id' }),
      replica('d-7c9-r', 'node-b', { restarts: 1 }),
    );
    assert.deepEqual(statuses, [
      'cold: label snapback.io/restore: "Not_An_Id" is neither latest nor a checkpoint id',
      'cold: container main restarted before a restore (a restarted container starts cold)',
    ]);
    assert.deepEqual(restored(), []);
    assert.deepEqual(agentB.startColds.map((s) => s.target?.pod).sort(), ['d-7c9-l', 'd-7c9-r']);
  });
});
