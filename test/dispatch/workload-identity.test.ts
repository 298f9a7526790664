/**
 * The workload a checkpoint records for a pod: its controlling owner through ownerReferences (a ReplicaSet
 * followed to its Deployment, a StatefulSet with the ordinal, a Job or any other kind as it is, else the
 * pod), the image by digest, the GPUs, the architecture and `snapback.io/keep` — as a pure function, and
 * end to end: a checkpoint request and a node notice carry it to the agent (loopback API server, fake
 * agent); a bad keep annotation is a failed checkpoint naming it, recorded on the pod, and no agent call.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1Node, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { podWorkload, type WorkloadLookups } from '../../src/dispatch/workload-identity.js';
import { type FakeAgent, startFakeAgent } from '../helpers/fake-agent.js';
import { agentPod, type FakeKube, node, pod, replicaSet, startFakeKube } from '../helpers/fake-kube.js';
import { postBinary, type Sink, startClusterFunctions, startSink } from '../helpers/functions-env.js';
import { awsSpotWarning } from '../helpers/notices.js';

const DIGEST = 'registry.example.com/app@sha256:aaaa';

function gpuNode(): V1Node {
  return {
    metadata: {
      name: 'node-a',
      labels: { 'kubernetes.io/arch': 'arm64', 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' },
    },
  };
}

function lookups(replicaSets: Record<string, V1ReplicaSet | Error> = {}): WorkloadLookups {
  return {
    replicaSet: async (_ns, name) => {
      const found = replicaSets[name];
      if (found instanceof Error) throw found;
      return found;
    },
    node: async (name) => (name === 'node-a' ? gpuNode() : undefined),
  };
}

function owned(name: string, owner?: { kind: string; name: string }, extra: Partial<V1Pod> = {}): V1Pod {
  const p = pod('ml', name, 'node-a', owner ? { owner } : {});
  p.spec!.containers[0]!.image = 'registry.example.com/app:1.0';
  return { ...p, ...extra };
}

describe('the workload a pod belongs to', () => {
  it('follows a ReplicaSet to its Deployment; a ReplicaSet without one, or unreadable, stands for itself', async () => {
    const p = owned('d-7c9-x2', { kind: 'ReplicaSet', name: 'd-7c9' });
    const viaDeployment = await podWorkload(p, 'main', lookups({ 'd-7c9': replicaSet('ml', 'd-7c9', 'd') }));
    assert.equal(`${viaDeployment.identity.ownerKind}/${viaDeployment.identity.ownerName}`, 'Deployment/d');
    assert.deepEqual(viaDeployment.warnings, []);
    const bare = await podWorkload(p, 'main', lookups({ 'd-7c9': replicaSet('ml', 'd-7c9') }));
    assert.equal(`${bare.identity.ownerKind}/${bare.identity.ownerName}`, 'ReplicaSet/d-7c9');
    const failing = await podWorkload(p, 'main', lookups({ 'd-7c9': new Error('forbidden') }));
    assert.equal(failing.identity.ownerKind, 'ReplicaSet');
    assert.match(failing.warnings[0]!, /cannot read ReplicaSet ml\/d-7c9 \(forbidden\)/);
    const gone = await podWorkload(p, 'main', lookups());
    assert.match(gone.warnings[0]!, /is gone/);
  });

  it('a StatefulSet pod with its ordinal (label, else name); a Job or another kind as is; no owner: the pod', async () => {
    const byName = await podWorkload(owned('db-3', { kind: 'StatefulSet', name: 'db' }), 'main', lookups());
    assert.deepEqual(
      [byName.identity.ownerKind, byName.identity.ownerName, byName.identity.ordinal],
      ['StatefulSet', 'db', 3],
    );
    const labelled = owned('lws-0-1', { kind: 'StatefulSet', name: 'lws-0' });
    labelled.metadata!.labels = { 'apps.kubernetes.io/pod-index': '1' };
    assert.equal((await podWorkload(labelled, 'main', lookups())).identity.ordinal, 1);
    const job = await podWorkload(owned('train-abc', { kind: 'Job', name: 'train' }), 'main', lookups());
    assert.equal(`${job.identity.ownerKind}/${job.identity.ownerName}`, 'Job/train');
    assert.equal(job.identity.ordinal, undefined);
    const lws = owned('g-0', {
      kind: 'LeaderWorkerSet',
      name: 'g',
      apiVersion: 'leaderworkerset.x-k8s.io/v1',
    } as {
      kind: string;
      name: string;
    });
    assert.equal((await podWorkload(lws, 'main', lookups())).identity.ownerKind, 'LeaderWorkerSet');
    const alone = await podWorkload(owned('solo'), 'main', lookups());
    assert.equal(`${alone.identity.ownerKind}/${alone.identity.ownerName}`, 'Pod/solo');
  });

  it('the image by the digest the node ran, else the spec; GPUs, their model and the architecture from the node', async () => {
    const p = owned('gpu-0');
    p.spec!.containers[0]!.resources = { limits: { 'nvidia.com/gpu': '2' } };
    assert.equal((await podWorkload(p, 'main', lookups())).identity.image, 'registry.example.com/app:1.0');
    p.status = {
      ...p.status,
      containerStatuses: [
        {
          name: 'main',
          image: 'registry.example.com/app:1.0',
          imageID: `docker-pullable://${DIGEST}`,
          ready: false,
          restartCount: 0,
        },
      ],
    };
    const { identity } = await podWorkload(p, 'main', lookups());
    assert.deepEqual(
      { image: identity.image, gpus: identity.gpuCount, model: identity.gpuModel, arch: identity.arch },
      { image: DIGEST, gpus: 2, model: 'NVIDIA-H100-80GB-HBM3', arch: 'arm64' },
    );
    const cpu = await podWorkload(owned('cpu-0'), 'main', lookups());
    assert.deepEqual([cpu.identity.gpuCount, cpu.identity.gpuModel], [0, ''], 'no model without GPUs');
    const elsewhere = owned('x');
    elsewhere.spec!.nodeName = 'node-z';
    assert.equal(
      (await podWorkload(elsewhere, 'main', lookups())).identity.arch,
      '',
      'the agent fills it in',
    );
  });

  it('snapback.io/keep: a whole number from 1 to 100, else why not', async () => {
    const keep = async (value: string) => {
      const p = owned('k');
      p.metadata!.annotations = { 'snapback.io/keep': value };
      const { keep: n, keepProblem } = await podWorkload(p, 'main', lookups());
      return n ?? keepProblem;
    };
    assert.equal(await keep('5'), 5);
    assert.equal(await keep(' 1 '), 1);
    for (const bad of ['0', '101', '-1', 'two', '', '1.5'])
      assert.match(
        String(await keep(bad)),
        /annotation snapback\.io\/keep: .* must be a whole number from 1 to 100/,
      );
    assert.equal((await podWorkload(owned('k'), 'main', lookups())).keep, undefined);
  });
});

describe('the workload travels with every checkpoint the functions dispatch (loopback API server, fake agent)', () => {
  let kube: FakeKube;
  let agent: FakeAgent;
  let sink: Sink;
  let fns: Awaited<ReturnType<typeof startClusterFunctions>>;

  before(async () => {
    [kube, agent, sink] = await Promise.all([startFakeKube(), startFakeAgent('node-a'), startSink()]);
    kube.nodes = [node('node-a', 'aws:///us-east-2a/i-0aaaaaaaaaaaaaaaa')];
    kube.nodes[0]!.metadata!.labels = { 'kubernetes.io/arch': 'amd64' };
    kube.replicaSets = [replicaSet('ml', 'd-7c9', 'd')];
    const enabled = { 'snapback.io/enabled': 'true' };
    const a = pod('ml', 'd-7c9-aaaaa', 'node-a', {
      labels: enabled,
      owner: { kind: 'ReplicaSet', name: 'd-7c9' },
      annotations: { 'snapback.io/keep': '3' },
    });
    a.status!.containerStatuses = [
      { name: 'main', image: 'app:1', imageID: DIGEST, ready: true, restartCount: 0 },
    ];
    const badKeep = pod('ml', 'bad-keep', 'node-a', {
      labels: enabled,
      annotations: { 'snapback.io/keep': 'all' },
    });
    kube.pods = [agentPod('agent-a', 'node-a', agent.address), a, badKeep];
    fns = await startClusterFunctions(kube, { sink: sink.url });
  });
  after(async () => {
    await fns.close();
    await Promise.all([kube.close(), agent.close(), sink.close()]);
  });

  it('a checkpoint request and a node notice: the Deployment, the digest, the architecture and keep reach the agent', async () => {
    const asked = await postBinary(
      fns.url,
      { specversion: '1.0', id: 'c-1', source: 'test', type: 'io.snapback.checkpoint.requested' },
      { namespace: 'ml', pod: 'd-7c9-aaaaa' },
    );
    assert.equal(asked.status, 202);
    const spot = await postBinary(
      fns.url,
      { specversion: '1.0', id: 'spot-1', source: 'aws.ec2', type: 'com.amazon.eventbridge.ec2' },
      awsSpotWarning('i-0aaaaaaaaaaaaaaaa', new Date().toISOString()),
    );
    assert.equal(spot.status, 202);
    const forA = agent.checkpoints.filter((c) => c.request.target?.pod === 'd-7c9-aaaaa');
    assert.equal(forA.length, 2, 'the request and the notice');
    for (const { request } of forA) {
      assert.deepEqual(request.identity, {
        namespace: 'ml',
        ownerKind: 'Deployment',
        ownerName: 'd',
        ordinal: undefined,
        container: 'main',
        image: DIGEST,
        gpuCount: 0,
        gpuModel: '',
        arch: 'amd64',
      });
      assert.equal(request.keep, 3);
    }
  });

  it('a bad snapback.io/keep: a failed checkpoint naming the annotation, recorded on the pod; the agent is not called', async () => {
    sink.received.length = 0;
    const before = agent.checkpoints.length;
    const res = await postBinary(
      fns.url,
      { specversion: '1.0', id: 'c-bad', source: 'test', type: 'io.snapback.checkpoint.requested' },
      { namespace: 'ml', pod: 'bad-keep' },
    );
    assert.equal(res.status, 202);
    const failed = sink.received.find((r) => r.headers['ce-type'] === 'io.snapback.checkpoint.failed');
    const error = (failed?.body as { error?: { code: string; phase: string; message: string } })?.error;
    assert.equal(error?.code, 'INVALID_ARGUMENT');
    assert.equal(error?.phase, 'resolve');
    assert.match(error?.message ?? '', /annotation snapback\.io\/keep: "all" must be a whole number/);
    assert.equal(agent.checkpoints.length, before);
    const recorded = kube.events.find((e) => e.involvedObject.name === 'bad-keep');
    assert.equal(recorded?.reason, 'CheckpointFailed');
    assert.match(recorded?.message ?? '', /snapback\.io\/keep/);
  });
});
