/**
 * ApiServerSources against the functions: Resource mode (the functions read the objects); every add and
 * update event a source sends — with the extension attributes of its `ceOverrides` — reaches a Trigger,
 * and every Trigger it reaches routes it to a function that reads it (asked through the function's own
 * `accepts()`); a Pod resource selects exactly the pods that opted in — `snapback.io/enabled: "true"` for
 * the disruption source, the label `snapback.io/restore` for the restore source (src/events/opt-in.ts):
 * a source sends every update of every pod it selects; and the base's Broker is the sink. Their
 * ServiceAccounts' rights are checked in rbac.ts.
 */
import {
  OPT_IN_LABEL,
  OPT_IN_VALUE,
  RESTORE_LABEL,
  RESTORE_SOURCE_EXTENSION,
  RESTORE_SOURCE_VALUE,
} from '../../src/events/opt-in.js';
import { ApiServerSourceType } from '../../src/events/types.js';
import { describe, type Manifest, type Problem } from './load.js';
import { accepted, lets, routesOf } from './trigger-filters.js';

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key?: string; operator?: string; values?: unknown[] }>;
}
interface SourceSpec {
  mode?: string;
  resources?: Array<{ apiVersion?: string; kind?: string; selector?: Selector }>;
  ceOverrides?: { extensions?: Record<string, string> };
  sink?: { ref?: { kind?: string; name?: string } };
}

const nameOf = (m: Manifest) => (m.object['metadata'] as { name?: string } | undefined)?.name;

/** Whether a selector selects exactly the pods that opted in: to restore, or to checkpoints. */
function selectsOptedIn(selector: Selector | undefined, restore: boolean): boolean {
  const labels = Object.entries(selector?.matchLabels ?? {});
  const expressions = selector?.matchExpressions ?? [];
  if (!restore)
    return (
      labels.length === 1 &&
      labels[0]!.join('=') === `${OPT_IN_LABEL}=${OPT_IN_VALUE}` &&
      expressions.length === 0
    );
  const [expression] = expressions;
  return (
    labels.length === 0 &&
    expressions.length === 1 &&
    expression?.key === RESTORE_LABEL &&
    expression.operator === 'Exists'
  );
}

function checkRoutes(
  manifests: readonly Manifest[],
  source: Manifest,
  spec: SourceSpec,
  problems: Problem[],
) {
  const where = describe(source);
  const routes = routesOf(manifests);
  const extensions = spec.ceOverrides?.extensions ?? {};
  for (const { kind = '' } of spec.resources ?? []) {
    for (const type of [ApiServerSourceType.ADD, ApiServerSourceType.UPDATE]) {
      const event = { ...extensions, type };
      const reached = routes.filter((r) => typeof r.filter !== 'string' && lets(r.filter, event));
      if (reached.length === 0 && kind !== '')
        problems.push({ where, message: `its ${kind} ${type} events reach no Trigger` });
      for (const { trigger, fn } of reached) {
        if (fn === undefined || accepted(fn, event, { kind })) continue;
        problems.push({
          where,
          message: `Trigger ${nameOf(trigger)} routes its ${kind || 'unnamed'} ${type} events to function ${fn}, which does not read ${kind || 'these'} objects`,
        });
      }
    }
  }
}

export function checkSources(manifests: readonly Manifest[], problems: Problem[]): void {
  const brokers = new Set(manifests.filter((m) => m.object['kind'] === 'Broker').map(nameOf));
  for (const source of manifests.filter((m) => m.object['kind'] === 'ApiServerSource')) {
    const where = describe(source);
    const spec = (source.object['spec'] ?? {}) as SourceSpec;
    if (spec.mode !== 'Resource') {
      problems.push({
        where,
        message: `mode must be Resource: the function reads the objects (not ${spec.mode})`,
      });
    }
    checkRoutes(manifests, source, spec, problems);
    const restore = spec.ceOverrides?.extensions?.[RESTORE_SOURCE_EXTENSION] === RESTORE_SOURCE_VALUE;
    for (const resource of spec.resources ?? []) {
      if (resource.kind !== 'Pod' || selectsOptedIn(resource.selector, restore)) continue;
      problems.push({
        where,
        message: restore
          ? `the Pod resource of the restore source must select exactly the pods with the label ${RESTORE_LABEL} (matchExpressions: [{key: ${RESTORE_LABEL}, operator: Exists}]; the source sends every update of every pod it selects)`
          : `the Pod resource must select exactly ${OPT_IN_LABEL}: "${OPT_IN_VALUE}" (the opted-in pods; the source sends every update of every pod it selects)`,
      });
    }
    const ref = spec.sink?.ref;
    if (ref?.kind !== 'Broker' || !brokers.has(ref.name)) {
      problems.push({ where, message: "the sink must be the base's Broker" });
    }
  }
}
