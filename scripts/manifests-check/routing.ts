/**
 * Triggers against the functions' own code: each Trigger filters on exact event types only, each type is
 * one the subscribed function accepts (its `accepts()` asked with a sample event of that type), every
 * inbound type of docs/architecture.md, "Events" has a route, and delivery has retries, a dead-letter sink and a timeout no
 * shorter than the function's.
 */
import { CloudEvent } from 'cloudevents';
import { functions } from '../../functions/index.js';
import { SPOT_INTERRUPTION } from '../../src/events/notices/aws.js';
import { ApiServerSourceType, EventType, GcpEventType } from '../../src/events/types.js';
import type { FunctionName } from '../../src/http/context.js';
import { WATCH_EVENT_TYPE } from '../../src/watch/notice.js';
import { containersOf } from './containers.js';
import { describe, type Manifest, type Problem } from './load.js';

const awsSpotWarning = {
  source: 'aws.ec2',
  'detail-type': SPOT_INTERRUPTION,
  time: '2026-01-01T00:00:00Z',
  detail: { 'instance-id': 'i-0123456789abcdef0' },
};

/**
 * A sample `data` for every event type a Trigger may route. Beside snapback's own inbound types: the
 * types that carry a cloud's notice as data (the function keys on the data, not the type) — AWS
 * EventBridge events from Knative's SQS IntegrationSource (current and earlier type names), Azure
 * Scheduled Events documents, and Eventarc's Cloud Audit Log events (docs/deploy.md).
 */
export const routableSamples: Readonly<Record<string, unknown>> = {
  [EventType.CHECKPOINT_REQUESTED]: {},
  [EventType.RESTORE_REQUESTED]: {},
  [EventType.PREEMPTION_NOTICED]: {},
  [ApiServerSourceType.UPDATE]: { kind: 'Node' },
  [ApiServerSourceType.ADD]: { kind: 'Node' },
  'dev.knative.eventing.aws-sqs': awsSpotWarning,
  'dev.knative.connector.event.aws-sqs': awsSpotWarning,
  'com.microsoft.azure.scheduledevents': { Events: [] },
  [GcpEventType.AUDIT_LOG_WRITTEN]: { protoPayload: { methodName: 'compute.instances.preempted' } },
};

/** Inbound types that must each reach a function, the node watcher's among them. */
export const requiredRoutes: readonly string[] = [
  ...new Set([
    EventType.CHECKPOINT_REQUESTED,
    EventType.RESTORE_REQUESTED,
    EventType.PREEMPTION_NOTICED,
    ApiServerSourceType.UPDATE,
    ApiServerSourceType.ADD,
    WATCH_EVENT_TYPE,
  ]),
];

interface Ref {
  apiVersion?: string;
  kind?: string;
  name?: string;
}
interface Delivery {
  retry?: number;
  timeout?: string;
  deadLetterSink?: { ref?: Ref };
}
interface TriggerSpec {
  broker?: string;
  filter?: { attributes?: Record<string, string> };
  filters?: unknown[];
  subscriber?: { ref?: Ref };
  delivery?: Delivery;
}

const nameOf = (m: Manifest) => (m.object['metadata'] as { name?: string } | undefined)?.name;

/** `PT1H2M3S` → seconds; undefined when it is not that form. */
export function isoSeconds(duration: string): number | undefined {
  const match = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$/.exec(duration);
  if (match === null || duration === 'PT') return undefined;
  return Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
}

/** Types an exact-type filter list names; throws on any other kind of filter. */
function typesOfFilters(filters: unknown[]): string[] {
  return filters.flatMap((f): string[] => {
    const expr = f as { exact?: Record<string, string>; any?: unknown[] };
    const keys = Object.keys(expr);
    if (keys.length === 1 && expr.exact !== undefined && Object.keys(expr.exact).join() === 'type') {
      return [expr.exact['type']!];
    }
    if (keys.length === 1 && Array.isArray(expr.any)) return typesOfFilters(expr.any);
    throw new Error(`only exact type filters (or any of them) are allowed, not ${JSON.stringify(f)}`);
  });
}

function triggerTypes(spec: TriggerSpec): string[] {
  const attributes = spec.filter?.attributes ?? {};
  if (spec.filters !== undefined && Object.keys(attributes).length > 0) {
    throw new Error('use filter or filters, not both');
  }
  if (spec.filters !== undefined) return typesOfFilters(spec.filters);
  const keys = Object.keys(attributes);
  if (keys.join() !== 'type')
    throw new Error(`filter.attributes must hold exactly type, not ${keys.join() || 'nothing'}`);
  return [attributes['type']!];
}

/** The function a Knative Service runs (`args: [function, NAME]`). */
function functionOf(service: Manifest): FunctionName | undefined {
  const args = containersOf(service)[0]?.args ?? [];
  return args[0] === 'function' && args[1] !== undefined && args[1] in functions
    ? (args[1] as FunctionName)
    : undefined;
}

function accepts(fn: FunctionName, type: string): boolean {
  const event = new CloudEvent({ type, source: '/manifests-check', data: routableSamples[type] });
  return functions[fn].accepts(event);
}

export function checkRouting(manifests: readonly Manifest[], problems: Problem[]): void {
  const of = (kind: string) => manifests.filter((m) => m.object['kind'] === kind);
  const services = new Map(of('Service').map((m) => [nameOf(m), m]));
  const brokers = new Set(of('Broker').map(nameOf));
  const routed = new Set<string>();
  for (const trigger of of('Trigger')) {
    const where = describe(trigger);
    const spec = (trigger.object['spec'] ?? {}) as TriggerSpec;
    if (!brokers.has(spec.broker))
      problems.push({ where, message: `broker ${spec.broker} is not in the base` });
    const service = services.get(spec.subscriber?.ref?.name);
    const fn = service === undefined ? undefined : functionOf(service);
    if (fn === undefined) {
      problems.push({
        where,
        message: `subscriber ${spec.subscriber?.ref?.name} is no function Service of the base`,
      });
    }
    let types: string[] = [];
    try {
      types = triggerTypes(spec);
    } catch (err) {
      problems.push({ where, message: (err as Error).message });
    }
    for (const type of types) {
      if (!(type in routableSamples)) {
        problems.push({ where, message: `no function handles events of type ${type}` });
      } else if (fn !== undefined && !accepts(fn, type)) {
        problems.push({ where, message: `function ${fn} does not handle events of type ${type}` });
      } else if (fn !== undefined) routed.add(type);
    }
    checkDelivery(where, spec.delivery, service, services, problems);
  }
  for (const type of requiredRoutes) {
    if (!routed.has(type))
      problems.push({ where: 'Triggers', message: `no Trigger routes ${type} to a function` });
  }
}

function checkDelivery(
  where: string,
  delivery: Delivery | undefined,
  service: Manifest | undefined,
  services: ReadonlyMap<string | undefined, Manifest>,
  problems: Problem[],
): void {
  if (!delivery?.retry) problems.push({ where, message: 'delivery.retry must be set' });
  if (!services.has(delivery?.deadLetterSink?.ref?.name)) {
    problems.push({ where, message: 'delivery.deadLetterSink must reference a Service of the base' });
  }
  const timeout = isoSeconds(delivery?.timeout ?? '');
  const spec = (service?.object['spec'] as { template?: { spec?: { timeoutSeconds?: number } } } | undefined)
    ?.template?.spec;
  const needed = spec?.timeoutSeconds ?? 300;
  if (timeout === undefined || timeout < needed) {
    problems.push({
      where,
      message: `delivery.timeout (${delivery?.timeout}) must be an ISO 8601 duration of at least the function's ${needed} s`,
    });
  }
}
