/**
 * Triggers against the functions' own code: each Trigger filters on exact event types (trigger-filters.ts
 * says which filters are read), each type is one the subscribed function accepts (its `accepts()` asked
 * with a sample event of that type, marked as the restore source marks its events where the filter asks
 * for that mark), every inbound type of docs/architecture.md, "Events" has a route, and delivery has
 * retries, a dead-letter sink and a timeout no shorter than the function's.
 */
import { SPOT_INTERRUPTION } from '../../src/events/notices/aws.js';
import { RESTORE_SOURCE_EXTENSION } from '../../src/events/opt-in.js';
import { ApiServerSourceType, EventType, GcpEventType } from '../../src/events/types.js';
import { WATCH_EVENT_TYPE } from '../../src/watch/notice.js';
import { describe, type Manifest, type Problem } from './load.js';
import { type Attributes, accepted, routesOf } from './trigger-filters.js';

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

const nameOf = (m: Manifest) => (m.object['metadata'] as { name?: string } | undefined)?.name;

/** `PT1H2M3S` → seconds; undefined when it is not that form. */
export function isoSeconds(duration: string): number | undefined {
  const match = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$/.exec(duration);
  if (match === null || duration === 'PT') return undefined;
  return Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
}

/** A sample `data` for an event with these attributes: the restore source sends Pods. */
function sampleOf(attributes: Attributes): unknown {
  return attributes[RESTORE_SOURCE_EXTENSION] === undefined
    ? routableSamples[attributes['type']!]
    : { kind: 'Pod' };
}

export function checkRouting(manifests: readonly Manifest[], problems: Problem[]): void {
  const of = (kind: string) => manifests.filter((m) => m.object['kind'] === kind);
  const services = new Map(of('Service').map((m) => [nameOf(m), m]));
  const brokers = new Set(of('Broker').map(nameOf));
  const routed = new Set<string>();
  for (const { trigger, filter, fn, subscriber } of routesOf(manifests)) {
    const where = describe(trigger);
    const spec = (trigger.object['spec'] ?? {}) as { broker?: string; delivery?: Delivery };
    if (!brokers.has(spec.broker))
      problems.push({ where, message: `broker ${spec.broker} is not in the base` });
    if (fn === undefined) {
      problems.push({ where, message: `subscriber ${subscriber} is no function Service of the base` });
    }
    if (typeof filter === 'string') problems.push({ where, message: filter });
    for (const attributes of typeof filter === 'string' ? [] : filter.accepted) {
      const type = attributes['type']!;
      const marked = Object.keys(attributes).length > 1 ? ` (${JSON.stringify(attributes)})` : '';
      if (!(type in routableSamples)) {
        problems.push({ where, message: `no function handles events of type ${type}` });
      } else if (fn !== undefined && !accepted(fn, attributes, sampleOf(attributes))) {
        problems.push({ where, message: `function ${fn} does not handle events of type ${type}${marked}` });
      } else if (fn !== undefined && marked === '') routed.add(type);
    }
    checkDelivery(where, spec.delivery, services.get(subscriber), services, problems);
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
