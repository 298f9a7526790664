/**
 * The restore loop under duplicates, races and hostile input (loopback API server, fake agents): twenty
 * add/update deliveries of one pod spread over two function replicas make one claim and one restore; a
 * claim a dead function left is taken over once it is old, not before; a decided pod is answered 2xx
 * without being read further; malformed pods are refused naming the field; Pod updates without the
 * restore source's mark are the preemption function's; local mode refuses the loop.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { functions } from '../../functions/index.js';
import { createAgentDispatcher } from '../../src/dispatch/agent-dispatcher.js';
import { createLocalResolver } from '../../src/dispatch/resolver.js';
import { startFunctionsServer } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';
import { type FakeAgent, startFakeAgent } from '../helpers/fake-agent.js';
import { agentPod, type FakeKube, node, replicaSet, startFakeKube } from '../helpers/fake-kube.js';
import { postBinary, startClusterFunctions } from '../helpers/functions-env.js';
import { waitFor } from '../helpers/proc.js';
import {
  decided,
  deploymentIdentity,
  podNow,
  RESTORE_EXTENSIONS,
  replica,
  restoreStatus,
} from '../helpers/replacement-pods.js';

/** A delivery of `data` as the restore source (or, without the mark, another source) sends it. */
function deliver(url: string, data: unknown, i: number, marked = true): Promise<Response> {
  return postBinary(
    url,
    {
      specversion: '1.0',
      id: `delivery-${i}-${Math.random()}`,
      source: 'https://kubernetes.default.svc',
      type: i % 2 === 0 ? 'dev.knative.apiserver.resource.add' : 'dev.knative.apiserver.resource.update',
      ...(marked ? RESTORE_EXTENSIONS : {}),
    },
    data,
  );
}

describe('the restore loop: duplicates, races, hostile input (loopback API server, fake agents)', () => {
  let kube: FakeKube;
  let agent: FakeAgent;
  let replicas: Array<Awaited<ReturnType<typeof startClusterFunctions>>>;

  before(async () => {
    [kube, agent] = await Promise.all([startFakeKube(), startFakeAgent('node-b')]);
    kube.nodes = [node('node-b', 'aws:///z/i-0b')];
    kube.replicaSets = [replicaSet('ml', 'd-7c9', 'd')];
    replicas = await Promise.all([startClusterFunctions(kube), startClusterFunctions(kube)]);
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.close()));
    await Promise.all([kube.close(), agent.close()]);
  });
  beforeEach(() => {
    kube.pods = [agentPod('agent-b', 'node-b', agent.address)];
    agent.restores.length = 0;
    agent.startColds.length = 0;
    agent.stored = [{ checkpointId: 'ckpt-d-1', identity: deploymentIdentity() }];
    // Slow enough that every delivery arrives while the first is in flight.
    agent.behaviour = () => ({ kind: 'ok', delayMs: 300 });
  });

  /** The pod as the API server has it now, as an ApiServerSource would send it. */
  const asSent = (name: string) => ({
    ...structuredClone(podNow(kube, name)),
    apiVersion: 'v1',
    kind: 'Pod',
  });

  it('twenty add/update deliveries over two function replicas: one claim, one restore, every answer 2xx', async () => {
    kube.pods = [...kube.pods, replica('d-7c9-b', 'node-b')];
    const sent = asSent('d-7c9-b');
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => deliver(replicas[i % 2]!.url, sent, i)),
    );
    assert.deepEqual(
      answers.map((a) => a.status).filter((s) => s >= 300),
      [],
    );
    assert.equal(decided(kube, 'd-7c9-b'), 'restored ckpt-d-1');
    assert.equal(agent.restores.length, 1, 'restored once');
    // Later updates of the decided pod: answered at once, nothing more.
    const late = await deliver(replicas[0]!.url, asSent('d-7c9-b'), 1);
    assert.equal(late.status, 204);
    assert.equal(agent.restores.length, 1);
  });

  it('an update older than the pod (it changed since): the claim is refused, the pod read again and claimed', async () => {
    kube.pods = [...kube.pods, replica('d-7c9-s', 'node-b')];
    const stale = asSent('d-7c9-s');
    const changed = structuredClone(podNow(kube, 'd-7c9-s')!);
    changed.metadata!.labels = { ...changed.metadata!.labels, tick: '1' };
    kube.pods = kube.pods.map((p) => (p.metadata?.name === 'd-7c9-s' ? changed : p));
    assert.notEqual(podNow(kube, 'd-7c9-s')?.metadata?.resourceVersion, stale.metadata?.resourceVersion);
    const before = kube.requests.length;
    assert.equal((await deliver(replicas[0]!.url, stale, 1)).status, 200);
    assert.equal(decided(kube, 'd-7c9-s'), 'restored ckpt-d-1');
    const requests = kube.requests.slice(before).filter((r) => r.includes('/pods/d-7c9-s'));
    assert.deepEqual(requests.slice(0, 3), [
      'PATCH /api/v1/namespaces/ml/pods/d-7c9-s?fieldManager=snapback',
      'GET /api/v1/namespaces/ml/pods/d-7c9-s',
      'PATCH /api/v1/namespaces/ml/pods/d-7c9-s?fieldManager=snapback',
    ]);
  });

  it('a claim a dead function left is taken over once it is old, and left alone while it is young', async () => {
    const young = new Date(Date.now() - 60_000).toISOString();
    const old = new Date(Date.now() - 16 * 60_000).toISOString();
    kube.pods = [
      ...kube.pods,
      replica('d-7c9-young', 'node-b', {
        annotations: { 'snapback.io/restore-status': `restoring since ${young}` },
      }),
      replica('d-7c9-old', 'node-b', {
        annotations: { 'snapback.io/restore-status': `restoring since ${old}` },
      }),
    ];
    assert.equal((await deliver(replicas[0]!.url, asSent('d-7c9-young'), 0)).status, 204);
    assert.equal(restoreStatus(kube, 'd-7c9-young'), `restoring since ${young}`);
    assert.equal((await deliver(replicas[1]!.url, asSent('d-7c9-old'), 1)).status, 200);
    assert.equal(decided(kube, 'd-7c9-old'), 'restored ckpt-d-1');
    assert.deepEqual(
      agent.restores.map((r) => r.target?.pod),
      ['d-7c9-old'],
    );
  });

  it('a decided pod is not read further (2xx whatever else it holds); malformed pods: 400 naming the field', async () => {
    const garbage = {
      kind: 'Pod',
      metadata: { annotations: { 'snapback.io/restore-status': 'restored x' }, name: 7 },
      spec: 'nonsense',
    };
    assert.equal((await deliver(replicas[0]!.url, garbage, 0)).status, 204);
    const base = asSent('agent-b');
    const cases: Array<[unknown, string]> = [
      [{ ...base, metadata: { ...base.metadata, uid: undefined } }, 'data.metadata.uid'],
      [{ ...base, metadata: { ...base.metadata, ownerReferences: 'd' } }, 'data.metadata.ownerReferences'],
      [{ ...base, spec: { ...base.spec, containers: {} } }, 'data.spec.containers'],
      [
        { ...base, metadata: { ...base.metadata, labels: { 'snapback.io/restore': 5 } } },
        'data.metadata.labels.snapback.io/restore',
      ],
      [
        { ...base, status: { containerStatuses: [{ name: 'main', restartCount: -1 }] } },
        'data.status.containerStatuses.0.restartCount',
      ],
    ];
    for (const [data, field] of cases) {
      const res = await deliver(replicas[0]!.url, data, 1);
      assert.equal(res.status, 400, field);
      const body = (await res.json()) as { error: { details: Array<{ field: string }> } };
      assert.deepEqual(
        body.error.details.map((d) => d.field),
        [field],
      );
    }
    assert.deepEqual(agent.restores, []);
  });

  it('a Pod update without the restore source mark goes to the preemption function, which ignores it', async () => {
    kube.pods = [...kube.pods, replica('d-7c9-u', 'node-b')];
    const res = await deliver(replicas[0]!.url, asSent('d-7c9-u'), 1, false);
    assert.equal(res.status, 204);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(restoreStatus(kube, 'd-7c9-u'), undefined);
    assert.deepEqual(agent.restores, []);
  });

  it('local mode has no pods to write on: the loop is refused (412), the function keeps serving', async () => {
    const server = await startFunctionsServer(
      {
        functions,
        serve: 'restore',
        resolver: createLocalResolver({ agent: agent.address, node: 'node-b' }),
        agents: createAgentDispatcher(),
        log: silentLogger(),
      },
      0,
      '127.0.0.1',
    );
    try {
      kube.pods = [...kube.pods, replica('d-7c9-l', 'node-b')];
      const res = await deliver(`http://127.0.0.1:${server.port}`, asSent('d-7c9-l'), 0);
      assert.equal(res.status, 412);
      assert.match(((await res.json()) as { error: { message: string } }).error.message, /cluster mode/);
    } finally {
      await server.close();
    }
    await waitFor('nothing restored', () => agent.restores.length === 0);
    agent.startColdStatus = grpc.status.OK;
  });
});
