/**
 * The tests' loopback API server against the real @kubernetes/client-node: informers (list + watch) follow
 * adds, changes, selector transitions and deletions, resume after the server ends a watch, list again
 * after 410 Gone; status patches in each patch type client-node sends; graceful pod deletion; every write
 * checked against the Kubernetes schema of its kind.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  CoreV1Api,
  KubeConfig,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
  Watch,
} from '@kubernetes/client-node';
import { type FakeKube, pod, startFakeKube } from '../helpers/fake-kube.js';
import { waitFor } from '../helpers/proc.js';

const enabled = { 'snapback.io/enabled': 'true' };

describe('the loopback API server, driven by client-node', () => {
  let kube: FakeKube;
  let api: CoreV1Api;
  let kc: KubeConfig;
  before(async () => {
    kube = await startFakeKube();
    kc = new KubeConfig();
    kc.loadFromFile(kube.kubeconfig);
    api = kc.makeApiClient(CoreV1Api);
  });
  after(() => kube.close());
  beforeEach(() => {
    kube.pods = [pod('ml', 'a', 'node-a', { labels: enabled }), pod('ml', 'b', 'node-b')];
  });

  function optedInInformer() {
    const informer = makeInformer(
      kc,
      '/api/v1/pods',
      () => api.listPodForAllNamespaces({ labelSelector: 'snapback.io/enabled=true' }),
      'snapback.io/enabled=true',
    );
    const seen: string[] = [];
    for (const verb of ['add', 'update', 'delete'] as const)
      informer.on(verb, (p: V1Pod) => seen.push(`${verb} ${p.metadata?.name}`));
    return { informer, seen };
  }

  it('an informer lists, then follows adds, changes, selector transitions and deletions', async () => {
    const { informer, seen } = optedInInformer();
    await informer.start();
    assert.deepEqual(seen, ['add a']);
    const list = await api.listPodForAllNamespaces({});
    assert.ok(Number(list.metadata?.resourceVersion) > 0, 'a list carries its resourceVersion');

    kube.pods = [...kube.pods, pod('ml', 'c', 'node-a', { labels: enabled })];
    await waitFor('c added', () => seen.includes('add c'));
    // b starts matching the selector: the watch says ADDED; a stops matching: DELETED.
    kube.pods = [
      pod('ml', 'a', 'node-a'),
      pod('ml', 'b', 'node-b', { labels: enabled }),
      pod('ml', 'c', 'node-a', { labels: enabled, phase: 'Failed' }),
    ];
    await waitFor('the transitions', () => seen.length >= 5);
    assert.deepEqual(seen.slice(2).sort(), ['add b', 'delete a', 'update c']);
    assert.equal(informer.get('c', 'ml')?.status?.phase, 'Failed');
    assert.equal(informer.get('a', 'ml'), undefined);
    await informer.stop();
  });

  it('resumes from its resource version when the server ends the watch, and lists again after 410 Gone', async () => {
    const { informer, seen } = optedInInformer();
    const errors: unknown[] = [];
    informer.on('error', (err) => errors.push(err));
    await informer.start();
    const lists = () =>
      kube.requests.filter((r) => r.startsWith('GET /api/v1/pods?') && !r.includes('watch=')).length;
    const listed = lists();
    kube.closeWatches();
    await waitFor('a new watch', () => kube.openWatches > 0);
    kube.pods = [...kube.pods, pod('ml', 'd', 'node-a', { labels: enabled })];
    await waitFor('d added', () => seen.includes('add d'));
    assert.equal(lists(), listed, 'a closed watch resumes without listing again');
    assert.ok(
      kube.requests.some((r) => /watch=true&resourceVersion=\d+/.test(r)),
      'it resumed from a version',
    );

    // Compaction: the next watch from the old version is told 410 Gone and the informer lists again.
    kube.compact();
    kube.closeWatches();
    kube.pods = [...kube.pods, pod('ml', 'e', 'node-a', { labels: enabled })];
    await waitFor('a list after 410', () => lists() > listed);
    await waitFor('e added', () => seen.includes('add e'));
    assert.deepEqual(errors, []);
    await informer.stop();
  });

  it('raw watches: replay after a resource version, ERROR 410 for a compacted one', async () => {
    const rv = (await api.listNamespacedPod({ namespace: 'ml' })).metadata!.resourceVersion!;
    kube.pods = [...kube.pods, pod('ml', 'f', 'node-a')];
    const events: string[] = [];
    const watch = new Watch(kc);
    const done = new Promise<unknown>((resolve) => {
      void watch.watch(
        '/api/v1/namespaces/ml/pods',
        { resourceVersion: rv },
        (type, obj: V1Pod) => {
          events.push(`${type} ${obj.metadata?.name} ${(obj as { kind?: string }).kind}`);
        },
        resolve,
      );
    });
    await waitFor('the replay', () => events.length > 0);
    assert.deepEqual(events, ['ADDED f Pod']);
    kube.closeWatches();
    await done;
    kube.compact();
    const expired: Array<{ type: string; code?: number }> = [];
    await new Promise<unknown>((resolve) => {
      void watch.watch(
        '/api/v1/pods',
        { resourceVersion: rv },
        (type, obj: { code?: number }) => {
          expired.push({ type, ...(obj.code === undefined ? {} : { code: obj.code }) });
        },
        resolve,
      );
    });
    assert.deepEqual(expired, [{ type: 'ERROR', code: 410 }]);
  });

  it('status patches as client-node sends them: JSON patch (its default), merge and strategic merge', async () => {
    const condition = (reason: string) => ({
      type: 'DisruptionTarget',
      status: 'True',
      reason,
      lastTransitionTime: new Date('2026-11-28T12:00:00Z'),
    });
    const json = await api.patchNamespacedPodStatus({
      name: 'a',
      namespace: 'ml',
      body: [{ op: 'add', path: '/status/conditions', value: [condition('PreemptionByScheduler')] }],
    });
    assert.equal(json.status?.conditions?.[0]?.reason, 'PreemptionByScheduler');
    const merged = await api.patchNamespacedPodStatus(
      { name: 'a', namespace: 'ml', body: { status: { conditions: [{ type: 'Ready', status: 'False' }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    assert.deepEqual(
      merged.status?.conditions?.map((c) => c.type),
      ['Ready'],
      'a merge patch replaces lists',
    );
    const strategic = await api.patchNamespacedPodStatus(
      { name: 'a', namespace: 'ml', body: { status: { conditions: [condition('EvictionByEvictionAPI')] } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    assert.deepEqual(
      strategic.status?.conditions?.map((c) => `${c.type}:${c.reason ?? ''}`),
      ['Ready:', 'DisruptionTarget:EvictionByEvictionAPI'],
      'a strategic merge patch merges conditions by type',
    );
    assert.equal(kube.pods.find((p) => p.metadata?.name === 'a')?.status?.conditions?.length, 2);
    // The status subresource never changes the spec, nor a patch of the object its status.
    await api.patchNamespacedPodStatus(
      { name: 'a', namespace: 'ml', body: { spec: { nodeName: 'elsewhere' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    assert.equal(kube.pods.find((p) => p.metadata?.name === 'a')?.spec?.nodeName, 'node-a');
    await assert.rejects(
      api.patchNamespacedPodStatus({
        name: 'a',
        namespace: 'ml',
        body: [{ op: 'test', path: '/status/phase', value: 'Failed' }],
      }),
      (err: { code?: number }) => err.code === 422,
    );
  });

  it('refuses writes that break the schema (422), stale resource versions (409), server-side apply (415)', async () => {
    await assert.rejects(
      api.patchNamespacedPodStatus(
        { name: 'a', namespace: 'ml', body: { status: { conditions: [{ type: 'DisruptionTarget' }] } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
      (err: { code?: number; body?: string }) =>
        err.code === 422 && /conditions\/0 must have required property status/.test(String(err.body)),
    );
    await assert.rejects(
      api.patchNamespacedPod(
        { name: 'a', namespace: 'ml', body: { metadata: { resourceVersion: '1', labels: { x: 'y' } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
      (err: { code?: number }) => err.code === 409,
    );
    await assert.rejects(
      api.patchNamespacedPod(
        { name: 'a', namespace: 'ml', body: { metadata: { labels: { x: 'y' } } } },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      ),
      (err: { code?: number }) => err.code === 415,
    );
    await assert.rejects(
      api.createNamespacedPod({ namespace: 'ml', body: { metadata: { name: 'bad' }, spec: {} as never } }),
      (err: { code?: number; body?: string }) => err.code === 422 && /containers/.test(String(err.body)),
    );
    assert.throws(() => {
      kube.pods = [
        {
          metadata: { name: 'x', namespace: 'ml', deletionTimestamp: 'soon' as never },
          spec: { containers: [] },
        },
      ];
    }, /deletionTimestamp must match format "date-time"/);
  });

  it('deletes a scheduled pod gracefully: deletionTimestamp = now + grace, removed once the kubelet is done', async () => {
    kube.pods = [pod('ml', 'g', 'node-a', { gracePeriodSeconds: 45 })];
    const before = Date.now();
    const deleted = await api.deleteNamespacedPod({ name: 'g', namespace: 'ml' });
    const at = new Date(deleted.metadata?.deletionTimestamp as unknown as string).getTime();
    assert.ok(
      at >= before + 44_000 && at <= Date.now() + 45_000,
      `deletionTimestamp ${at - before} ms ahead`,
    );
    assert.equal(deleted.metadata?.deletionGracePeriodSeconds, 45);
    assert.equal((await api.readNamespacedPod({ name: 'g', namespace: 'ml' })).metadata?.name, 'g');
    kube.finishDeletion('ml', 'g');
    await assert.rejects(
      api.readNamespacedPod({ name: 'g', namespace: 'ml' }),
      (e: { code?: number }) => e.code === 404,
    );
    await api.deleteNamespacedPod({ name: 'a', namespace: 'ml', gracePeriodSeconds: 0 }).catch(() => {});
    assert.equal(kube.pods.length, 0);
  });
});
