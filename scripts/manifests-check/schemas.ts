/**
 * Offline schema validation: each manifest against the JSON Schema of its apiVersion/kind, as published
 * by kubernetes-models (Kubernetes OpenAPI) and @kubernetes-models/knative (Knative CRDs). A kind with no
 * schema here is a problem too: it is either a typo or a resource this check does not know.
 * These schemas allow unknown fields, so a misspelt optional field passes them; the cross-checks cover the
 * fields snapback depends on.
 */
import { Broker } from '@kubernetes-models/knative/eventing.knative.dev/v1/Broker';
import { Trigger } from '@kubernetes-models/knative/eventing.knative.dev/v1/Trigger';
import { Service as KnativeService } from '@kubernetes-models/knative/serving.knative.dev/v1/Service';
import { ApiServerSource } from '@kubernetes-models/knative/sources.knative.dev/v1/ApiServerSource';
import { SinkBinding } from '@kubernetes-models/knative/sources.knative.dev/v1/SinkBinding';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { describe, type Manifest, type Problem } from './load.js';

interface ModelClass {
  readonly apiVersion: string;
  readonly kind: string;
  new (data: never): { validate(): void };
}

const models: readonly ModelClass[] = [
  Namespace,
  ConfigMap,
  ServiceAccount,
  PersistentVolumeClaim,
  DaemonSet,
  NetworkPolicy,
  Role,
  RoleBinding,
  ClusterRole,
  ClusterRoleBinding,
  Broker,
  Trigger,
  KnativeService,
  ApiServerSource,
  SinkBinding,
];

/** Kinds that are not namespaced. */
export const clusterScoped: ReadonlySet<string> = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);

const byType = new Map(models.map((m) => [`${m.apiVersion} ${m.kind}`, m]));

interface SchemaError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: { missingProperty?: string };
}

/**
 * The schema's complaints about one object. Some generated Knative schemas (SinkBinding) list `status`
 * as required, which no manifest has: that one is not counted.
 */
function schemaErrors(Model: ModelClass, object: Record<string, unknown>): string[] {
  try {
    new Model(object as never).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: SchemaError[] }).errors;
    if (!Array.isArray(errors)) return [(err as Error).message];
    return errors
      .filter(
        (e) => !(e.instancePath === '' && e.keyword === 'required' && e.params.missingProperty === 'status'),
      )
      .map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`);
  }
}

export function validateSchemas(
  manifests: readonly Manifest[],
  namespace: unknown,
  problems: Problem[],
): void {
  for (const m of manifests) {
    const where = describe(m);
    const { apiVersion, kind } = m.object;
    const Model = byType.get(`${String(apiVersion)} ${String(kind)}`);
    if (Model === undefined) {
      problems.push({
        where,
        message: `no schema for apiVersion ${String(apiVersion)} kind ${String(kind)}`,
      });
      continue;
    }
    if ('status' in m.object)
      problems.push({ where, message: 'status is written by the cluster; leave it out' });
    const errors = schemaErrors(Model, m.object);
    if (errors.length > 0) problems.push({ where, message: `schema: ${errors.join(', ')}` });
    const meta = (m.object['metadata'] ?? {}) as { name?: unknown; namespace?: unknown };
    if (typeof meta.name !== 'string' || meta.name === '') {
      problems.push({ where, message: 'metadata.name is required' });
    }
    if (clusterScoped.has(String(kind))) continue;
    if (meta.namespace !== namespace) {
      problems.push({
        where,
        message: `metadata.namespace must be ${String(namespace)} (the kustomization's namespace)`,
      });
    }
  }
}
