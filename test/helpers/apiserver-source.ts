/**
 * A stand-in for Knative's ApiServerSource in Resource mode with the Triggers that route its add and update
 * events: it lists and watches resources of the loopback API server (the real client-node Watch) and posts
 * each object as a CloudEvent in binary mode, as Knative's adapter builds them — type
 * `dev.knative.apiserver.resource.add|update`, `source` the API server's URL, `subject` the object's path,
 * the extensions `kind`, `name` and `namespace`, the whole object (with `kind` and `apiVersion`) as data.
 * Like the adapter, it sends an add for every object that exists when it starts, and adds the extension
 * attributes of the source's `ceOverrides` to every event.
 * https://knative.dev/docs/eventing/sources/apiserversource/
 */
import { randomUUID } from 'node:crypto';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import type { FakeKube } from './fake-kube.js';

export interface SourceResource {
  /** Collection path, e.g. `/api/v1/pods`. */
  path: string;
  kind: string;
  plural: string;
  labelSelector?: string;
}

export interface Delivery {
  type: string;
  kind: string;
  name: string;
  status: number;
  body: string;
}

export interface ApiServerSourceStandIn {
  deliveries: Delivery[];
  /** Resolves once every event sent so far has been answered. */
  settled(): Promise<void>;
  stop(): void;
}

type KubeObject = { metadata?: { name?: string; namespace?: string; resourceVersion?: string } };

export async function startApiServerSource(
  kube: FakeKube,
  sink: string,
  resources: readonly SourceResource[],
  ceOverrides: { extensions?: Record<string, string> } = {},
): Promise<ApiServerSourceStandIn> {
  const kc = new KubeConfig();
  kc.loadFromFile(kube.kubeconfig);
  const deliveries: Delivery[] = [];
  const pending = new Set<Promise<void>>();
  const aborts: Array<() => void> = [];
  let stopped = false;

  const post = (verb: 'add' | 'update', resource: SourceResource, object: KubeObject) => {
    const meta = object.metadata ?? {};
    const subject = `/apis/v1/${meta.namespace ? `namespaces/${meta.namespace}/` : ''}${resource.plural}/${meta.name}`;
    const type = `dev.knative.apiserver.resource.${verb}`;
    const sent = fetch(sink, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': randomUUID(),
        'ce-source': kube.url,
        'ce-type': type,
        'ce-subject': subject,
        'ce-kind': resource.kind,
        'ce-name': meta.name ?? '',
        ...(meta.namespace ? { 'ce-namespace': meta.namespace } : {}),
        ...Object.fromEntries(Object.entries(ceOverrides.extensions ?? {}).map(([k, v]) => [`ce-${k}`, v])),
      },
      body: JSON.stringify({ ...object, apiVersion: 'v1', kind: resource.kind }),
    }).then(
      async (res) => {
        deliveries.push({
          type,
          kind: resource.kind,
          name: meta.name ?? '',
          status: res.status,
          body: await res.text(),
        });
      },
      (err: unknown) => {
        deliveries.push({ type, kind: resource.kind, name: meta.name ?? '', status: 0, body: String(err) });
      },
    );
    pending.add(sent);
    void sent.finally(() => pending.delete(sent));
  };

  const follow = async (resource: SourceResource) => {
    const query = resource.labelSelector
      ? `?labelSelector=${encodeURIComponent(resource.labelSelector)}`
      : '';
    const list = (await (await fetch(`${kube.url}${resource.path}${query}`)).json()) as {
      metadata: { resourceVersion: string };
      items: KubeObject[];
    };
    for (const item of list.items) post('add', resource, item);
    let rv = list.metadata.resourceVersion;
    const watch = new Watch(kc);
    const again = async (): Promise<void> => {
      if (stopped) return;
      const controller = await watch.watch(
        resource.path,
        { resourceVersion: rv, ...(resource.labelSelector ? { labelSelector: resource.labelSelector } : {}) },
        (type: string, object: KubeObject) => {
          rv = object.metadata?.resourceVersion ?? rv;
          // The Triggers route add and update; deletes reach no function.
          if (type === 'ADDED') post('add', resource, object);
          if (type === 'MODIFIED') post('update', resource, object);
        },
        () => void again(),
      );
      aborts.push(() => controller.abort());
    };
    await again();
  };
  await Promise.all(resources.map(follow));
  return {
    deliveries,
    settled: async () => {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    stop() {
      stopped = true;
      for (const abort of aborts) abort();
    },
  };
}
