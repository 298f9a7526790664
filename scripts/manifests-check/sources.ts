/**
 * ApiServerSources against the preemption function: Resource mode (the function reads the objects), only
 * kinds it reads (asked through its own `accepts()`), a Pod resource that selects exactly the opted-in pods
 * (src/events/opt-in.ts: without it every update of every pod in the cluster would be sent), and the base's
 * Broker as the sink. That the types they send are routed is checked with the Triggers (routing.ts), and
 * their ServiceAccounts' rights in rbac.ts.
 */
import { CloudEvent } from 'cloudevents';
import { functions } from '../../functions/index.js';
import { OPT_IN_LABEL, OPT_IN_VALUE } from '../../src/events/opt-in.js';
import { ApiServerSourceType } from '../../src/events/types.js';
import { describe, type Manifest, type Problem } from './load.js';

interface SourceSpec {
  mode?: string;
  resources?: Array<{
    apiVersion?: string;
    kind?: string;
    selector?: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
  }>;
  sink?: { ref?: { kind?: string; name?: string } };
}

const readByPreemption = (kind: string) =>
  functions.preemption.accepts(
    new CloudEvent({ type: ApiServerSourceType.UPDATE, source: '/manifests-check', data: { kind } }),
  );

export function checkSources(manifests: readonly Manifest[], problems: Problem[]): void {
  const brokers = new Set(
    manifests
      .filter((m) => m.object['kind'] === 'Broker')
      .map((m) => (m.object['metadata'] as { name?: string } | undefined)?.name),
  );
  for (const source of manifests.filter((m) => m.object['kind'] === 'ApiServerSource')) {
    const where = describe(source);
    const spec = (source.object['spec'] ?? {}) as SourceSpec;
    if (spec.mode !== 'Resource') {
      problems.push({
        where,
        message: `mode must be Resource: the function reads the objects (not ${spec.mode})`,
      });
    }
    for (const resource of spec.resources ?? []) {
      const kind = resource.kind ?? '';
      if (!readByPreemption(kind)) {
        problems.push({
          where,
          message: `the preemption function does not read ${kind || 'this kind'} objects`,
        });
      }
      const labels = resource.selector?.matchLabels ?? {};
      const exact =
        Object.keys(labels).length === 1 &&
        labels[OPT_IN_LABEL] === OPT_IN_VALUE &&
        (resource.selector?.matchExpressions?.length ?? 0) === 0;
      if (kind === 'Pod' && !exact) {
        problems.push({
          where,
          message: `the Pod resource must select exactly ${OPT_IN_LABEL}: "${OPT_IN_VALUE}" (the opted-in pods; the source sends every update of every pod it selects)`,
        });
      }
    }
    const ref = spec.sink?.ref;
    if (ref?.kind !== 'Broker' || !brokers.has(ref.name)) {
      problems.push({ where, message: "the sink must be the base's Broker" });
    }
  }
}
