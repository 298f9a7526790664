/**
 * ReplicaSets read through the loopback API server (apps/v1, the real client-node) and kept a while: one
 * GET per ReplicaSet within the TTL, concurrent questions share it, a missing one is remembered, a failed
 * read is not, and a changed ReplicaSet is seen once its entry expired.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppsV1Api, KubeConfig } from '@kubernetes/client-node';
import { createReplicaSetCache } from '../../src/dispatch/replica-sets.js';
import { type FakeKube, replicaSet, startFakeKube } from '../helpers/fake-kube.js';

describe('ReplicaSets, one GET at a time and kept a while', () => {
  let kube: FakeKube;
  let apps: AppsV1Api;
  let clock = 0;
  const gets = () => kube.requests.filter((r) => r.startsWith('GET /apis/apps/v1/')).length;

  before(async () => {
    kube = await startFakeKube();
    const kc = new KubeConfig();
    kc.loadFromFile(kube.kubeconfig);
    apps = kc.makeApiClient(AppsV1Api);
    kube.replicaSets = [replicaSet('ml', 'd-7c9', 'd')];
  });
  after(() => kube.close());

  it('reads each once within the TTL, shares concurrent reads, remembers a missing one', async () => {
    const lookup = createReplicaSetCache(apps, { ttlMs: 1000, now: () => clock });
    const [a, b] = await Promise.all([lookup('ml', 'd-7c9'), lookup('ml', 'd-7c9')]);
    assert.equal(a?.metadata?.ownerReferences?.[0]?.name, 'd');
    assert.equal(b, a);
    assert.equal(gets(), 1);
    assert.equal(await lookup('ml', 'nope'), undefined);
    assert.equal(await lookup('ml', 'nope'), undefined);
    assert.equal(gets(), 2, 'a 404 is an answer too');
    kube.replicaSets = [replicaSet('ml', 'd-7c9')];
    assert.equal((await lookup('ml', 'd-7c9'))?.metadata?.ownerReferences?.[0]?.name, 'd', 'still cached');
    clock += 1001;
    assert.equal((await lookup('ml', 'd-7c9'))?.metadata?.ownerReferences, undefined, 'read again');
  });

  it('a failed read is an error, and is not remembered', async () => {
    const lookup = createReplicaSetCache(apps, { now: () => clock });
    kube.failRequests((method, url) => method === 'GET' && url.includes('/replicasets/'));
    await assert.rejects(lookup('ml', 'd-7c9'), /Kubernetes API: cannot read ReplicaSet ml\/d-7c9/);
    kube.failRequests(undefined);
    assert.equal((await lookup('ml', 'd-7c9'))?.metadata?.name, 'd-7c9');
  });

  it('the API server checks ReplicaSets against their schema', () => {
    assert.throws(() => {
      kube.replicaSets = [{ metadata: { name: 'broken', namespace: 'ml' }, spec: {} } as never];
    }, /ReplicaSet "broken" is invalid/);
  });
});
