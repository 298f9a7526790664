/**
 * A loopback stand-in for the EC2 instance metadata service with IMDSv2 required, following its documented
 * contract (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html):
 * `PUT /latest/api/token` needs `X-aws-ec2-metadata-token-ttl-seconds` (1–21600) and refuses proxied
 * requests (`X-Forwarded-For`); every GET without a valid, unexpired token is 401; a category with nothing
 * in it (no spot action, no rebalance recommendation, not in an Auto Scaling group) is 404.
 */
import { randomUUID } from 'node:crypto';
import { reply, type Stub, startStub } from './http-stub.js';

export interface FakeImds extends Stub {
  instanceId: string;
  /** `spot/instance-action`, absent (404) until set. */
  spotAction?: { action: string; time: string } | undefined;
  /** `events/recommendations/rebalance`. */
  rebalance?: { noticeTime: string } | undefined;
  /** `autoscaling/target-lifecycle-state`. */
  lifecycleState?: string | undefined;
  tokensIssued: number;
  /** GETs answered 401. */
  unauthorized: number;
  /** Revokes every token (as if they expired). */
  expireTokens(): void;
}

export async function startFakeImds(instanceId: string): Promise<FakeImds> {
  const tokens = new Map<string, number>();
  const imds = {
    instanceId,
    tokensIssued: 0,
    unauthorized: 0,
    expireTokens: () => tokens.clear(),
  } as FakeImds;
  const stub = await startStub((req, url, _body, res) => {
    if (req.method === 'PUT' && url.pathname === '/latest/api/token') {
      if (req.headers['x-forwarded-for'] !== undefined) return reply(res, 403, 'Forbidden');
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21_600) return reply(res, 400, 'Bad Request');
      const token = randomUUID();
      tokens.set(token, Date.now() + ttl * 1000);
      imds.tokensIssued++;
      return reply(res, 200, token);
    }
    if (req.method !== 'GET') return reply(res, 405, 'Method Not Allowed');
    const token = String(req.headers['x-aws-ec2-metadata-token'] ?? '');
    if ((tokens.get(token) ?? 0) < Date.now()) {
      imds.unauthorized++;
      return reply(res, 401, 'Unauthorized');
    }
    const json = (value: unknown) =>
      reply(res, 200, JSON.stringify(value), { 'content-type': 'application/json' });
    switch (url.pathname) {
      case '/latest/meta-data/instance-id':
        return reply(res, 200, imds.instanceId);
      case '/latest/meta-data/spot/instance-action':
        return imds.spotAction ? json(imds.spotAction) : reply(res, 404, 'Not Found');
      case '/latest/meta-data/events/recommendations/rebalance':
        return imds.rebalance ? json(imds.rebalance) : reply(res, 404, 'Not Found');
      case '/latest/meta-data/autoscaling/target-lifecycle-state':
        return imds.lifecycleState ? reply(res, 200, imds.lifecycleState) : reply(res, 404, 'Not Found');
      default:
        return reply(res, 404, 'Not Found');
    }
  });
  return Object.assign(imds, stub);
}
