/**
 * Resolution from informers against the loopback API server: once in sync, no question costs an API
 * request; the cache follows the cluster (agents moving, pods stopping, pods and nodes appearing); a pod
 * the cache does not hold costs one GET; while an informer is failing the resolver asks the API instead,
 * and the cache is used again once the informer is back.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { createInformerResolver } from '../../src/dispatch/informer-resolver.js';
import { type KubeCache, startKubeCache } from '../../src/dispatch/kube-cache.js';
import type { Resolver } from '../../src/dispatch/resolver.js';
import { silentLogger } from '../../src/log.js';
import { agentPod, type FakeKube, node, pod, startFakeKube } from '../helpers/fake-kube.js';
import { waitFor } from '../helpers/proc.js';

const enabled = { 'snapback.io/enabled': 'true' };

describe('resolution from informers', () => {
  let kube: FakeKube;
  let api: CoreV1Api;
  let kc: KubeConfig;
  let cache: KubeCache;
  let resolver: Resolver;
  /** API requests made while `work` ran, watch streams aside. */
  const requestsDuring = async (work: () => Promise<unknown>): Promise<string[]> => {
    const from = kube.requests.length;
    await work();
    return kube.requests.slice(from);
  };

  before(async () => {
    kube = await startFakeKube();
    kc = new KubeConfig();
    kc.loadFromFile(kube.kubeconfig);
    api = kc.makeApiClient(CoreV1Api);
  });
  after(() => kube.close());
  beforeEach(async () => {
    kube.failRequests(undefined);
    kube.nodes = [
      node('node-a', 'aws:///us-east-2a/i-0aaaaaaaaaaaaaaaa'),
      node('node-b', 'gce://p/z/node-b'),
    ];
    kube.pods = [
      agentPod('agent-a', 'node-a', '127.0.0.1:7001'),
      agentPod('agent-b', 'node-b', '127.0.0.1:7002'),
      pod('ml', 'train-0', 'node-a', {
        labels: enabled,
        containers: ['side', 'train'],
        annotations: { 'snapback.io/container': 'train' },
      }),
      pod('ml', 'train-1', 'node-a', { labels: enabled }),
      pod('ml', 'web', 'node-a'),
      pod('ml', 'train-2', 'node-b', { labels: enabled }),
    ];
    cache = await startKubeCache(kc, api, { log: silentLogger(), restartDelayMs: 20, maxRestartDelayMs: 50 });
    resolver = createInformerResolver(api, cache);
    assert.ok(cache.synced);
  });
  afterEach(() => cache.stop());

  it('answers every question of a notice from memory: no API request', async () => {
    const requests = await requestsDuring(async () => {
      assert.deepEqual(await resolver.nodesFor({ providerIdSuffix: 'i-0aaaaaaaaaaaaaaaa' }), ['node-a']);
      assert.deepEqual(await resolver.nodesFor({ providerId: 'gce://p/z/node-b' }), ['node-b']);
      const { targets, skipped } = await resolver.targetsOn('node-a');
      assert.deepEqual(targets.map((t) => `${t.pod}/${t.container}@${t.agentAddress}`).sort(), [
        'train-0/train@127.0.0.1:7001',
        'train-1/main@127.0.0.1:7001',
      ]);
      assert.deepEqual(skipped, []);
      const located = await resolver.locate('ml', 'train-2');
      assert.equal(located.agentAddress, '127.0.0.1:7002');
      assert.equal(located.podUid, 'uid-ml-train-2');
      const state = await resolver.optedInPod('ml', 'train-0');
      assert.equal(state?.target?.container, 'train');
      assert.equal(state?.gracePeriodSeconds, 30);
    });
    assert.deepEqual(requests, []);
  });

  it('follows the cluster: an agent moves, a pod stops, pods and nodes appear, a pod opts out', async () => {
    kube.pods = kube.pods.map((p) => {
      if (p.metadata?.name === 'agent-a') return agentPod('agent-a', 'node-a', '127.0.0.1:7101');
      if (p.metadata?.name === 'train-1')
        return pod('ml', 'train-1', 'node-a', { labels: enabled, phase: 'Succeeded' });
      if (p.metadata?.name === 'train-2') return pod('ml', 'train-2', 'node-b');
      return p;
    });
    kube.pods = [...kube.pods, pod('ml', 'train-3', 'node-a', { labels: enabled })];
    kube.nodes = [...kube.nodes, node('node-c', 'aws:///us-east-2c/i-0cccccccccccccccc')];
    await waitFor('the cache to follow', async () => {
      const { targets } = await resolver.targetsOn('node-a');
      return targets.some((t) => t.pod === 'train-3' && t.agentAddress === '127.0.0.1:7101');
    });
    const { targets, skipped } = await resolver.targetsOn('node-a');
    assert.deepEqual(targets.map((t) => t.pod).sort(), ['train-0', 'train-3']);
    assert.deepEqual(
      skipped.map((s) => `${s.pod}: ${s.reason}`),
      ['train-1: pod is Succeeded'],
    );
    assert.deepEqual((await resolver.targetsOn('node-b')).targets, [], 'train-2 opted out');
    await waitFor(
      'node-c',
      async () => (await resolver.nodesFor({ providerIdSuffix: 'i-0cccccccccccccccc' }))[0],
    );
  });

  it('a pod the cache does not hold costs one GET (its agent still from the cache); unknown pods stay unknown', async () => {
    const requests = await requestsDuring(async () => {
      const located = await resolver.locate('ml', 'web');
      assert.equal(located.agentAddress, '127.0.0.1:7001');
      assert.equal(await resolver.optedInPod('ml', 'web'), undefined, 'web did not opt in');
      await assert.rejects(resolver.locate('ml', 'nobody'), /not found/);
    });
    assert.deepEqual(requests, [
      'GET /api/v1/namespaces/ml/pods/web',
      'GET /api/v1/namespaces/ml/pods/web',
      'GET /api/v1/namespaces/ml/pods/nobody',
    ]);
  });

  it('while an informer fails, the API answers; once it is back, the cache does again', async () => {
    kube.failRequests((method, url) => method === 'GET' && url.includes('watch=true'));
    kube.closeWatches();
    await waitFor('the cache to notice', () => !cache.synced);
    kube.pods = [...kube.pods, pod('ml', 'train-4', 'node-a', { labels: enabled })];
    const direct = await requestsDuring(async () => {
      const { targets } = await resolver.targetsOn('node-a');
      assert.ok(
        targets.some((t) => t.pod === 'train-4'),
        'the API has the pod the cache missed',
      );
    });
    assert.ok(
      direct.some((r) => r.startsWith('GET /api/v1/pods?fieldSelector=spec.nodeName')),
      direct.join('\n'),
    );
    kube.failRequests(undefined);
    await waitFor('the cache to be back', () => cache.synced, 10_000);
    const cached = await requestsDuring(async () => {
      const { targets } = await resolver.targetsOn('node-a');
      assert.ok(
        targets.some((t) => t.pod === 'train-4'),
        'the resumed watch brought what it missed',
      );
    });
    assert.deepEqual(cached, []);
  });
});
