/**
 * ReplicaSets read one GET at a time and kept a short while, to follow a pod's ReplicaSet to its
 * Deployment (workload-identity.ts). An informer would hold every ReplicaSet of the cluster, each
 * Deployment's old revisions included, for the few that own opted-in pods; a ReplicaSet's controller
 * changes only when it is adopted or orphaned, so an answer a minute old is good enough. A missing one is
 * remembered too; a failed read is not. Concurrent questions about one ReplicaSet share one request.
 */
import type { AppsV1Api, V1ReplicaSet } from '@kubernetes/client-node';
import { kubeErrorOf } from './kube-resolver.js';
import type { WorkloadLookups } from './workload-identity.js';

export interface ReplicaSetCacheOptions {
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

export function createReplicaSetCache(
  apps: AppsV1Api,
  options: ReplicaSetCacheOptions = {},
): WorkloadLookups['replicaSet'] {
  const ttlMs = options.ttlMs ?? 60_000;
  const maxEntries = options.maxEntries ?? 1000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { at: number; value: Promise<V1ReplicaSet | undefined> }>();
  return (namespace, name) => {
    const key = `${namespace}/${name}`;
    const cached = entries.get(key);
    if (cached !== undefined && now() - cached.at <= ttlMs) return cached.value;
    const value: Promise<V1ReplicaSet | undefined> = apps
      .readNamespacedReplicaSet({ namespace, name })
      .catch((err: unknown) => {
        if ((err as { code?: unknown }).code === 404) return undefined;
        if (entries.get(key)?.value === value) entries.delete(key);
        throw kubeErrorOf(err, `ReplicaSet ${key}`);
      });
    entries.delete(key);
    entries.set(key, { at: now(), value });
    while (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    return value;
  };
}
