/**
 * AWS: the instance metadata service, IMDSv2 (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html):
 * a session token from `PUT /latest/api/token` (its lifetime in `X-aws-ec2-metadata-token-ttl-seconds`),
 * sent in `X-aws-ec2-metadata-token` with every GET; a 401 means the token expired, so one more is taken.
 * Polled, since IMDS has no way to wait for a change (AWS suggests every 5 s; the interval is ours):
 * - `spot/instance-action` → `{"action", "time"}`, the time the instance is stopped or terminated; 404
 *   until there is a notice (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html);
 * - `events/recommendations/rebalance` → `{"noticeTime"}`, an early warning
 *   (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/rebalance-recommendations.html);
 * - `autoscaling/target-lifecycle-state` → `Terminated` when Auto Scaling is terminating the instance
 *   (https://docs.aws.amazon.com/autoscaling/ec2/userguide/retrieving-target-lifecycle-state-through-imds.html).
 */
import { ErrorCode, SnapbackError } from '../errors.js';
import { Urgency } from '../events/notices/notice.js';
import type { Logger } from '../log.js';
import { expectStatus, type MetadataResponse, metadataRequest } from './metadata-http.js';
import { Cloud, type NoticeSink, type NoticeSource, type WatchedNotice } from './notice.js';
import { pollLoop } from './poll-loop.js';

export const IMDS_TOKEN_PATH = '/latest/api/token';
const TOKEN_TTL_HEADER = 'X-aws-ec2-metadata-token-ttl-seconds';
const TOKEN_HEADER = 'X-aws-ec2-metadata-token';
export const ImdsPath = {
  INSTANCE_ID: '/latest/meta-data/instance-id',
  SPOT_ACTION: '/latest/meta-data/spot/instance-action',
  REBALANCE: '/latest/meta-data/events/recommendations/rebalance',
  LIFECYCLE_STATE: '/latest/meta-data/autoscaling/target-lifecycle-state',
} as const;

export interface AwsImdsOptions {
  endpoint: string;
  pollIntervalMs: number;
  requestTimeoutMs: number;
  /** Token lifetime asked for (1–21600 s); a new one is taken a little before it ends. */
  tokenTtlSeconds?: number;
  log: Logger;
}

/** A client for IMDSv2: GETs with a session token, renewed before it ends and after a 401. */
export function createImdsClient(options: AwsImdsOptions) {
  const ttl = options.tokenTtlSeconds ?? 21_600;
  let token: { value: string; renewAt: number } | undefined;
  const url = (path: string) => new URL(path, options.endpoint).toString();

  const newToken = async (signal: AbortSignal): Promise<string> => {
    const response = await metadataRequest(url(IMDS_TOKEN_PATH), {
      method: 'PUT',
      headers: { [TOKEN_TTL_HEADER]: String(ttl) },
      timeoutMs: options.requestTimeoutMs,
      signal,
    });
    expectStatus(IMDS_TOKEN_PATH, response, 200);
    // Renewed at 90 % of its life, so a token never ends between the check and the request.
    token = { value: response.text.trim(), renewAt: Date.now() + ttl * 900 };
    return token.value;
  };

  const get = async (path: string, signal: AbortSignal): Promise<MetadataResponse> => {
    for (let attempt = 1; ; attempt++) {
      const value = token !== undefined && Date.now() < token.renewAt ? token.value : await newToken(signal);
      const response = await metadataRequest(url(path), {
        headers: { [TOKEN_HEADER]: value },
        timeoutMs: options.requestTimeoutMs,
        signal,
      });
      if (response.status !== 401 || attempt === 2) return response;
      token = undefined; // expired or revoked: one more token, one more try
    }
  };

  return { get, newToken };
}

/** A JSON document from IMDS, or UNAVAILABLE naming the path when it is not one. */
function json<T>(path: string, response: MetadataResponse): T {
  try {
    return JSON.parse(response.text) as T;
  } catch {
    throw new SnapbackError(ErrorCode.UNAVAILABLE, `${path} is not JSON: ${response.text.slice(0, 200)}`);
  }
}

export function createAwsImdsSource(options: AwsImdsOptions): NoticeSource {
  const imds = createImdsClient(options);
  let instanceId: string | undefined;

  /** A notice at `path`, or undefined on 404 (nothing there yet). */
  const read = async (path: string, signal: AbortSignal): Promise<MetadataResponse | undefined> => {
    const response = await imds.get(path, signal);
    if (response.status === 404) return undefined;
    expectStatus(path, response, 200);
    return response;
  };

  const poll = async (sink: NoticeSink, signal: AbortSignal) => {
    if (instanceId === undefined) {
      const id = await read(ImdsPath.INSTANCE_ID, signal);
      instanceId = id?.text.trim();
    }
    const notices: WatchedNotice[] = [];
    const spot = await read(ImdsPath.SPOT_ACTION, signal);
    if (spot !== undefined) {
      const { action, time } = json<{ action?: string; time?: string }>(ImdsPath.SPOT_ACTION, spot);
      const at = time === undefined ? Number.NaN : Date.parse(time);
      if (action === undefined || Number.isNaN(at)) {
        throw new SnapbackError(ErrorCode.UNAVAILABLE, `unexpected spot/instance-action: ${spot.text}`);
      }
      notices.push({
        key: `aws/spot/${action}/${time}`,
        cloud: Cloud.AWS,
        urgency: Urgency.IMMINENT,
        deadline: new Date(at),
        reason: `EC2 spot instance-action ${action} at ${time} for ${instanceId ?? 'this instance'} (instance metadata)`,
      });
    }
    const rebalance = await read(ImdsPath.REBALANCE, signal);
    if (rebalance !== undefined) {
      const { noticeTime } = json<{ noticeTime?: string }>(ImdsPath.REBALANCE, rebalance);
      notices.push({
        key: `aws/rebalance/${noticeTime ?? rebalance.text.trim()}`,
        cloud: Cloud.AWS,
        urgency: Urgency.EARLY,
        reason: `EC2 rebalance recommendation at ${noticeTime} for ${instanceId ?? 'this instance'} (instance metadata)`,
      });
    }
    const lifecycle = await read(ImdsPath.LIFECYCLE_STATE, signal);
    if (lifecycle?.text.trim() === 'Terminated') {
      notices.push({
        key: `aws/autoscaling/Terminated/${instanceId ?? ''}`,
        cloud: Cloud.AWS,
        urgency: Urgency.IMMINENT,
        reason: `Auto Scaling target lifecycle state Terminated for ${instanceId ?? 'this instance'} (instance metadata)`,
      });
    }
    for (const notice of notices) await sink.found(notice);
  };

  return {
    cloud: Cloud.AWS,
    run: (sink, signal) =>
      pollLoop(
        { intervalMs: options.pollIntervalMs, log: options.log, what: 'AWS instance metadata' },
        signal,
        () => poll(sink, signal),
      ),
  };
}
