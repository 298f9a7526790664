/**
 * What each Trigger of the base lets through, and to which function: its filter read as the broker
 * applies it (https://knative.dev/docs/eventing/triggers/) — `filter.attributes` (every attribute equal),
 * or `filters` (all of them true) made of one `exact` (or `any` of them) on `type`, with the restore
 * source's extension beside it where it routes that source's events, and `not` of an `exact` on that
 * extension to keep them out. Anything else is refused: these checks could not tell what it lets through.
 */
import { CloudEvent } from 'cloudevents';
import { functions } from '../../functions/index.js';
import { RESTORE_SOURCE_EXTENSION } from '../../src/events/opt-in.js';
import type { FunctionName } from '../../src/http/context.js';
import { containersOf } from './containers.js';
import type { Manifest } from './load.js';

export type Attributes = Readonly<Record<string, string>>;

/** Any of `accepted` (each holds a type), and none of `excluded`. */
export interface TriggerFilter {
  accepted: Attributes[];
  excluded: Attributes[];
}

export interface Route {
  trigger: Manifest;
  /** The Trigger's filter, or why it cannot be read. */
  filter: TriggerFilter | string;
  /** The function its subscriber Service runs, when it is one of the base's. */
  fn?: FunctionName;
  subscriber?: string;
}

/** Attributes an `exact` may name beside `type`: the restore source's mark. */
const EXTENSIONS: readonly string[] = [RESTORE_SOURCE_EXTENSION];

const NOT_READABLE =
  'only exact type filters are allowed (alone, any of them, with the restore source mark, or not that mark)';

function exactOf(expr: unknown, positive: boolean): Attributes {
  const exact = (expr as { exact?: unknown } | null)?.exact;
  const keys = Object.keys(expr ?? {});
  if (keys.length !== 1 || typeof exact !== 'object' || exact === null) throw new Error(NOT_READABLE);
  const attributes = exact as Record<string, unknown>;
  const names = Object.keys(attributes);
  const allowed = (n: string) => (positive && n === 'type') || EXTENSIONS.includes(n);
  if ((positive && !names.includes('type')) || !names.every(allowed) || names.length === 0)
    throw new Error(`${NOT_READABLE}, not ${JSON.stringify(expr)}`);
  if (!Object.values(attributes).every((v) => typeof v === 'string'))
    throw new Error(`${NOT_READABLE}: values are strings`);
  return attributes as Attributes;
}

function filtersOf(filters: readonly unknown[]): TriggerFilter {
  const accepted: Attributes[] = [];
  const excluded: Attributes[] = [];
  let positives = 0;
  for (const f of filters) {
    const expr = f as { any?: unknown; not?: unknown };
    if (Object.keys(expr ?? {}).length === 1 && Array.isArray(expr.any)) {
      positives++;
      accepted.push(...expr.any.map((e) => exactOf(e, true)));
    } else if (Object.keys(expr ?? {}).length === 1 && expr.not !== undefined) {
      excluded.push(exactOf(expr.not, false));
    } else {
      positives++;
      try {
        accepted.push(exactOf(f, true));
      } catch {
        throw new Error(`${NOT_READABLE}, not ${JSON.stringify(f)}`);
      }
    }
  }
  if (positives !== 1) throw new Error(`${NOT_READABLE}: one exact (or any) naming the types`);
  return { accepted, excluded };
}

/** The filter of a Trigger's spec; throws when it cannot be read. */
export function filterOf(spec: {
  filter?: { attributes?: Record<string, string> };
  filters?: unknown[];
}): TriggerFilter {
  const attributes = spec.filter?.attributes ?? {};
  if (spec.filters !== undefined && Object.keys(attributes).length > 0) {
    throw new Error('use filter or filters, not both');
  }
  if (spec.filters !== undefined) return filtersOf(spec.filters);
  const keys = Object.keys(attributes);
  if (!keys.includes('type') || !keys.every((k) => k === 'type' || EXTENSIONS.includes(k)))
    throw new Error(
      `filter.attributes must hold type (and the restore source mark), not ${keys.join() || 'nothing'}`,
    );
  return { accepted: [attributes], excluded: [] };
}

const within = (part: Attributes, whole: Attributes) =>
  Object.entries(part).every(([k, v]) => whole[k] === v);

/** Whether a filter lets an event with these attributes through. */
export function lets(filter: TriggerFilter, event: Attributes): boolean {
  return filter.accepted.some((a) => within(a, event)) && !filter.excluded.some((x) => within(x, event));
}

const nameOf = (m: Manifest) => (m.object['metadata'] as { name?: string } | undefined)?.name;

/** The function a Knative Service runs (`args: [function, NAME]`). */
function functionOf(service: Manifest): FunctionName | undefined {
  const args = containersOf(service)[0]?.args ?? [];
  return args[0] === 'function' && args[1] !== undefined && args[1] in functions
    ? (args[1] as FunctionName)
    : undefined;
}

/** Every Trigger of the base with its filter and the function it routes to. */
export function routesOf(manifests: readonly Manifest[]): Route[] {
  const services = new Map(
    manifests.filter((m) => m.object['kind'] === 'Service').map((m) => [nameOf(m), m]),
  );
  return manifests
    .filter((m) => m.object['kind'] === 'Trigger')
    .map((trigger) => {
      const spec = (trigger.object['spec'] ?? {}) as Parameters<typeof filterOf>[0] & {
        subscriber?: { ref?: { name?: string } };
      };
      let filter: TriggerFilter | string;
      try {
        filter = filterOf(spec);
      } catch (err) {
        filter = (err as Error).message;
      }
      const subscriber = spec.subscriber?.ref?.name;
      const service = services.get(subscriber);
      const fn = service === undefined ? undefined : functionOf(service);
      return { trigger, filter, ...(fn === undefined ? {} : { fn }), ...(subscriber ? { subscriber } : {}) };
    });
}

/** Whether a function accepts an event with these attributes and data. */
export function accepted(fn: FunctionName, attributes: Attributes, data: unknown): boolean {
  const event = new CloudEvent<unknown>({
    source: '/manifests-check',
    type: attributes['type'] ?? '',
    ...attributes,
    data,
  });
  return functions[fn].accepts(event);
}
