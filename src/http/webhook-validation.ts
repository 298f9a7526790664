/**
 * The CloudEvents webhook validation handshake ("abuse protection", CloudEvents HTTP Web Hooks §4:
 * https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/http-webhook.md#4-abuse-protection), which
 * Azure Event Grid runs before it delivers CloudEvents 1.0 to an endpoint
 * (https://learn.microsoft.com/azure/event-grid/webhook-event-delivery): an OPTIONS request naming the
 * sender in `WebHook-Request-Origin` is answered 200 with `WebHook-Allowed-Origin` and
 * `WebHook-Allowed-Rate` when that sender is allowed. The handshake is consent, not authentication.
 */
import type { Request, Response } from 'express';
import { ErrorCode, SnapbackError } from '../errors.js';
import type { FunctionMetrics } from './metrics.js';
import { sendError } from './replies.js';

/** The origin Azure Event Grid names itself by. */
export const EVENT_GRID_ORIGIN = 'eventgrid.azure.net';

export interface WebhookValidationOptions {
  /** Senders allowed to deliver (DNS names, case-insensitive); `*` allows any. */
  allowedOrigins: readonly string[];
  metrics: FunctionMetrics;
}

function single(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined || text.trim() === '' ? undefined : text.trim();
}

/** The OPTIONS handler of one path. */
export function webhookValidation(options: WebhookValidationOptions) {
  const allowed = new Set(options.allowedOrigins.map((o) => o.toLowerCase()));
  return (req: Request, res: Response) => {
    const route = req.path;
    const origin = single(req.headers['webhook-request-origin']);
    let status: number;
    if (origin === undefined) {
      const message = 'is required: OPTIONS here is the CloudEvents webhook validation handshake';
      status = sendError(
        res,
        new SnapbackError(ErrorCode.INVALID_ARGUMENT, `WebHook-Request-Origin ${message}`, {
          details: [{ field: 'WebHook-Request-Origin', message }],
        }),
      );
    } else if (!allowed.has('*') && !allowed.has(origin.toLowerCase())) {
      // Refusal: no WebHook-Allowed-Origin in the answer (§4.2).
      const message = `${origin} may not deliver here (allowed: ${[...allowed].join(', ') || 'none'})`;
      status = sendError(
        res,
        new SnapbackError(ErrorCode.FAILED_PRECONDITION, message, {
          details: [{ field: 'WebHook-Request-Origin', message }],
        }),
        403,
      );
    } else {
      // The rate the sender asked for is granted; without one, any rate (§4.2.2: SHOULD be present).
      const rate = single(req.headers['webhook-request-rate']);
      res
        .status(200)
        .set({
          'WebHook-Allowed-Origin': origin,
          'WebHook-Allowed-Rate': rate !== undefined && /^\d+$/.test(rate) ? rate : '*',
          Allow: 'POST, OPTIONS',
        })
        .end();
      status = 200;
    }
    options.metrics.requests.inc({ route, status: String(status) });
  };
}
