/**
 * The events the demo sends: an AWS EventBridge "EC2 Spot Instance Interruption Warning" as CloudEvent
 * data (shaped as in https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html),
 * and a restore request; posted to the functions in binary mode, as a Knative broker delivers them.
 */
import { randomUUID } from 'node:crypto';
import { CloudEvent, HTTP } from 'cloudevents';
import { ErrorCode, SnapbackError } from '../errors.js';
import { EventType, type RestoreRequestedData } from '../events/types.js';

export const DEMO_SOURCE = '/snapback/demo';

export interface Ec2Instance {
  /** e.g. `us-east-1a` */
  zone: string;
  /** e.g. `i-0123456789abcdef0` */
  instanceId: string;
  account?: string;
}

/** The node's `spec.providerID` for an EC2 instance: `aws:///us-east-1a/i-0123456789abcdef0`. */
export function providerIdOf(instance: Ec2Instance): string {
  return `aws:///${instance.zone}/${instance.instanceId}`;
}

/** An EventBridge spot interruption warning for `instance`, issued at `at` (two minutes' notice). */
export function spotInterruptionWarning(instance: Ec2Instance, at: Date): CloudEvent<unknown> {
  const region = instance.zone.replace(/[a-z]$/, '');
  const account = instance.account ?? '123456789012';
  const id = randomUUID();
  // EventBridge times carry whole seconds.
  const time = `${at.toISOString().slice(0, 19)}Z`;
  return new CloudEvent<unknown>({
    specversion: '1.0',
    id,
    source: `arn:aws:events:${region}:${account}:rule/snapback-spot-warnings`,
    type: 'com.amazonaws.ec2.spot-instance-interruption-warning',
    time,
    datacontenttype: 'application/json',
    data: {
      version: '0',
      id,
      'detail-type': 'EC2 Spot Instance Interruption Warning',
      source: 'aws.ec2',
      account,
      time,
      region,
      resources: [`arn:aws:ec2:${region}:${account}:instance/${instance.instanceId}`],
      detail: { 'instance-id': instance.instanceId, 'instance-action': 'terminate' },
    },
  });
}

export function restoreRequested(data: RestoreRequestedData): CloudEvent<RestoreRequestedData> {
  return new CloudEvent<RestoreRequestedData>({
    specversion: '1.0',
    id: randomUUID(),
    source: DEMO_SOURCE,
    type: EventType.RESTORE_REQUESTED,
    subject: `${data.namespace}/${data.pod}`,
    datacontenttype: 'application/json',
    data,
  });
}

/** Posts one event in binary mode; returns the HTTP status and body. */
export async function postEvent(
  url: string,
  event: CloudEvent<unknown>,
  signal: AbortSignal,
): Promise<{ status: number; body: string }> {
  const message = HTTP.binary(event);
  const headers = Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, String(v)]));
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body: message.body as string,
    signal,
  }).catch((err: unknown) => {
    throw new SnapbackError(ErrorCode.UNAVAILABLE, `cannot reach the functions at ${url}`, { cause: err });
  });
  return { status: response.status, body: await response.text() };
}
