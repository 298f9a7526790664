/**
 * The snapback containers of a base (those running the `snapback-agent` or `snapback-functions` image
 * placeholders), with the command they run, the environment they get from `env` and `envFrom`, and what a
 * SinkBinding whose subject is their workload injects (`K_SINK`).
 */
import { describe, type Manifest, type Problem } from './load.js';

/** Image names as written in the base; kustomize `images:` points them at real registries. */
export const SnapbackImage = { AGENT: 'snapback-agent', FUNCTIONS: 'snapback-functions' } as const;
const snapbackImages: ReadonlySet<string> = new Set(Object.values(SnapbackImage));

/** What a SinkBinding injects, with a stand-in value of the right kind (the broker's address). */
export const SINK_BINDING_ENV = 'K_SINK';
const sinkSample = 'http://broker-ingress.knative-eventing.svc.cluster.local/snapback/snapback';

/** Stand-in values for env taken from the downward API, so that loadConfig can check the rest. */
const fieldRefSample: Readonly<Record<string, string>> = {
  'spec.nodeName': 'node-a',
  'metadata.namespace': 'snapback',
  'metadata.name': 'pod-a',
};

export interface Container {
  name: string;
  image?: string;
  args?: string[];
  command?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath?: string } } }>;
  envFrom?: Array<{
    prefix?: string;
    configMapRef?: { name?: string };
    secretRef?: { name?: string; optional?: boolean };
  }>;
  ports?: Array<{ name?: string; containerPort?: number }>;
  readinessProbe?: { grpc?: { port?: number } };
  volumeMounts?: Array<{ name?: string; mountPath?: string; readOnly?: boolean }>;
}

export interface Volume {
  name: string;
  hostPath?: { path?: string; type?: string };
  emptyDir?: unknown;
  persistentVolumeClaim?: { claimName?: string };
}

export interface SnapbackContainer {
  manifest: Manifest;
  where: string;
  container: Container;
  /** Pod template labels. */
  labels: Record<string, string>;
  /** Every variable the container's manifest gives it, with its value (or a stand-in). */
  env: Record<string, string>;
  /** Variables injected from outside the manifest (K_SINK by a SinkBinding), with stand-ins. */
  injected: Record<string, string>;
  /** The SinkBindings whose subject is this container's workload. */
  sinkBindings: Manifest[];
}

/** `spec.template` of a DaemonSet or a Knative Service. */
function podTemplateOf(
  m: Manifest,
): { metadata?: { labels?: Record<string, string> }; spec?: unknown } | undefined {
  const kind = m.object['kind'];
  if (kind !== 'DaemonSet' && kind !== 'Service') return undefined;
  return (m.object['spec'] as { template?: never } | undefined)?.template;
}

export function containersOf(m: Manifest): Container[] {
  const spec = podTemplateOf(m)?.spec as { containers?: Container[] } | undefined;
  return spec?.containers ?? [];
}

export function volumesOf(m: Manifest): Volume[] {
  const spec = podTemplateOf(m)?.spec as { volumes?: Volume[] } | undefined;
  return spec?.volumes ?? [];
}

interface SinkBindingSpec {
  subject?: {
    apiVersion?: string;
    kind?: string;
    name?: string;
    selector?: { matchLabels?: Record<string, string> };
  };
  sink?: { ref?: { apiVersion?: string; kind?: string; name?: string }; uri?: string };
}

export function sinkBindingSpecOf(m: Manifest): SinkBindingSpec {
  return (m.object['spec'] ?? {}) as SinkBindingSpec;
}

/** The SinkBindings whose subject names this workload (by name, or by a label selector of its labels). */
function sinkBindingsOf(workload: Manifest, manifests: readonly Manifest[]): Manifest[] {
  const meta = (workload.object['metadata'] ?? {}) as { name?: string; labels?: Record<string, string> };
  return manifests.filter((m) => {
    if (m.object['kind'] !== 'SinkBinding') return false;
    const subject = sinkBindingSpecOf(m).subject;
    if (subject === undefined) return false;
    if (subject.kind !== workload.object['kind'] || subject.apiVersion !== workload.object['apiVersion']) {
      return false;
    }
    if (subject.name !== undefined) return subject.name === meta.name;
    const wanted = Object.entries(subject.selector?.matchLabels ?? {});
    return wanted.length > 0 && wanted.every(([k, v]) => meta.labels?.[k] === v);
  });
}

export function podLabelsOf(m: Manifest): Record<string, string> {
  return podTemplateOf(m)?.metadata?.labels ?? {};
}

function configMapData(manifests: readonly Manifest[], name: string): Record<string, string> | undefined {
  const found = manifests.find(
    (m) => m.object['kind'] === 'ConfigMap' && (m.object['metadata'] as { name?: unknown })?.name === name,
  );
  return found === undefined ? undefined : ((found.object['data'] ?? {}) as Record<string, string>);
}

function envOf(c: Container, manifests: readonly Manifest[], where: string, problems: Problem[]) {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    // An optional Secret the operator may create (the object store's credentials, read by the AWS SDK):
    // not in the base, so there is nothing of it to check; without it the container starts all the same.
    if (from.secretRef?.optional === true && from.prefix === undefined) continue;
    const name = from.configMapRef?.name;
    if (name === undefined) {
      problems.push({
        where,
        message: `container ${c.name}: envFrom other than a configMapRef is not checked`,
      });
      continue;
    }
    const data = configMapData(manifests, name);
    if (data === undefined) {
      problems.push({ where, message: `container ${c.name}: envFrom ConfigMap ${name} is not in the base` });
      continue;
    }
    for (const [key, value] of Object.entries(data)) env[`${from.prefix ?? ''}${key}`] = String(value);
  }
  for (const e of c.env ?? []) {
    const path = e.valueFrom?.fieldRef?.fieldPath;
    env[e.name] = e.value ?? (path !== undefined ? (fieldRefSample[path] ?? 'x') : 'x');
  }
  return env;
}

export function snapbackContainers(manifests: readonly Manifest[], problems: Problem[]): SnapbackContainer[] {
  const found: SnapbackContainer[] = [];
  for (const manifest of manifests) {
    for (const container of containersOf(manifest)) {
      if (container.image === undefined || !snapbackImages.has(container.image)) continue;
      const where = describe(manifest);
      const sinkBindings = sinkBindingsOf(manifest, manifests);
      found.push({
        manifest,
        where,
        container,
        labels: podLabelsOf(manifest),
        env: envOf(container, manifests, where, problems),
        injected: sinkBindings.length > 0 ? { [SINK_BINDING_ENV]: sinkSample } : {},
        sinkBindings,
      });
    }
  }
  return found;
}
