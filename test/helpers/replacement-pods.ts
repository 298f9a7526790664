/**
 * Pods of a Deployment as the restore loop sees them on the loopback API server: replicas of a ReplicaSet
 * labelled `snapback.io/restore`, with the `snapback.io/restored` readiness gate, an image digest the node
 * ran, their container running (snapback-init waiting) — and what the restore function wrote on them.
 */
import type { V1Pod, V1PodCondition } from '@kubernetes/client-node';
import type { FakeKube } from './fake-kube.js';
import { pod } from './fake-kube.js';

export const IMAGE = 'registry.example.com/app@sha256:aaaa';
export const OTHER_IMAGE = 'registry.example.com/app@sha256:bbbb';
/** The extension the restore source adds to its events (knative/restore-source.yaml's ceOverrides). */
export const RESTORE_EXTENSIONS = { snapbackfor: 'restore' };
/** The restore source's Pod resource, for the ApiServerSource stand-in. */
export const RESTORE_SOURCE = {
  path: '/api/v1/pods',
  kind: 'Pod',
  plural: 'pods',
  labelSelector: 'snapback.io/restore',
};

export interface ReplicaOptions {
  /** The label's value (default `latest`); undefined-valued labels are left out. */
  from?: string;
  replicaSet?: string;
  image?: string;
  /** Its container has started (default true); false: still being created. */
  running?: boolean;
  restarts?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A replica of `replicaSet` on `nodeName` ('' = not scheduled yet) that opted in to restore. */
export function replica(name: string, nodeName: string, options: ReplicaOptions = {}): V1Pod {
  const p = pod('ml', name, nodeName, {
    labels: { 'snapback.io/restore': options.from ?? 'latest', ...options.labels },
    owner: { kind: 'ReplicaSet', name: options.replicaSet ?? 'd-7c9' },
    annotations: options.annotations ?? {},
  });
  if (!nodeName) {
    delete p.spec!.nodeName;
    p.status = { phase: 'Pending' };
  }
  p.spec!.readinessGates = [{ conditionType: 'snapback.io/restored' }];
  p.spec!.containers[0]!.image = 'registry.example.com/app:1.0';
  if (nodeName) {
    const now = new Date().toISOString() as unknown as Date;
    p.status!.containerStatuses = [
      {
        name: 'main',
        image: 'registry.example.com/app:1.0',
        imageID: options.image ?? IMAGE,
        ready: false,
        restartCount: options.restarts ?? 0,
        state:
          options.running === false
            ? { waiting: { reason: 'ContainerCreating' } }
            : { running: { startedAt: now } },
      },
    ];
  }
  return p;
}

/** The pod as the API server has it now. */
export function podNow(kube: FakeKube, name: string): V1Pod | undefined {
  return kube.pods.find((p) => p.metadata?.name === name);
}

export function restoreStatus(kube: FakeKube, name: string): string | undefined {
  return podNow(kube, name)?.metadata?.annotations?.['snapback.io/restore-status'];
}

export function restoredCondition(kube: FakeKube, name: string): V1PodCondition | undefined {
  return podNow(kube, name)?.status?.conditions?.find((c) => c.type === 'snapback.io/restored');
}

/** Decided: the condition True and the annotation no longer a claim. */
export function decided(kube: FakeKube, name: string): string | undefined {
  const status = restoreStatus(kube, name);
  const done = restoredCondition(kube, name)?.status === 'True' && !status?.startsWith('restoring');
  return done ? status : undefined;
}

/** The Kubernetes Events recorded on a pod, as `Reason: message`. */
export function eventsOn(kube: FakeKube, name: string): string[] {
  return kube.events.filter((e) => e.involvedObject.name === name).map((e) => `${e.reason}: ${e.message}`);
}

/** A checkpoint of the Deployment `d`'s container, as a manifest records it. */
export function deploymentIdentity(image = IMAGE) {
  return {
    namespace: 'ml',
    owner: { kind: 'Deployment', name: 'd' },
    container: 'main',
    image,
    gpus: { count: 0 },
    arch: 'amd64',
  };
}
