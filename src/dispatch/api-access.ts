/**
 * What the functions ask of the Kubernetes API: read pods one by one and list/watch them (the informers of
 * agent and opted-in pods, and a GET for a pod the cache does not hold), list/watch nodes (providerID and
 * VM name → node; a node's architecture and GPU model), create Events on target pods (recorder.ts), read a
 * pod's ReplicaSet to find its Deployment (replica-sets.ts: one GET, kept a minute; no informer, so no
 * list or watch), and patch a replacement pod's annotations and status (the restore loop, pod-status.ts).
 * `knative/functions-rbac.yaml` must grant exactly this much at least; `make manifests-check` checks it.
 */
export interface ApiAccess {
  /** The API group ("" is core). */
  group: string;
  resource: string;
  verbs: readonly string[];
}

export const functionsApiAccess: readonly ApiAccess[] = [
  { group: '', resource: 'pods', verbs: ['get', 'list', 'watch', 'patch'] },
  // The restore loop's condition, for the pod's readiness gate (pod-status.ts).
  { group: '', resource: 'pods/status', verbs: ['patch'] },
  { group: '', resource: 'nodes', verbs: ['list', 'watch'] },
  { group: '', resource: 'events', verbs: ['create'] },
  { group: 'apps', resource: 'replicasets', verbs: ['get'] },
];

/** What an ApiServerSource needs on each resource it sends (Knative's adapter runs informers on them). */
export const sourceVerbs: readonly string[] = ['get', 'list', 'watch'];
