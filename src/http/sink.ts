/**
 * Delivery of completion events to a sink (`K_SINK` from a SinkBinding, or `--sink URL`) in binary mode,
 * with retries and exponential backoff (with jitter) on network errors, 429 and 5xx.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type CloudEvent, HTTP } from 'cloudevents';
import { ErrorCode, SnapbackError } from '../errors.js';
import type { Logger } from '../log.js';

export interface SinkOptions {
  url: string;
  attempts?: number;
  baseDelayMs?: number;
  timeoutMs?: number;
  log: Logger;
}

export type SinkSender = (event: CloudEvent<unknown>) => Promise<void>;

function retryable(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

export function createSinkSender(options: SinkOptions): SinkSender {
  const attempts = options.attempts ?? 5;
  const baseDelayMs = options.baseDelayMs ?? 200;
  const timeoutMs = options.timeoutMs ?? 10_000;
  return async (event) => {
    const message = HTTP.binary(event);
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(message.headers)) headers[key] = String(value);
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const response = await fetch(options.url, {
          method: 'POST',
          headers,
          body: message.body as string,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.arrayBuffer();
        if (response.ok) return;
        lastError = new Error(`sink answered ${response.status}`);
        if (!retryable(response.status)) break;
      } catch (err) {
        lastError = err;
      }
      if (attempt < attempts) {
        const delay = baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random());
        options.log.warn(
          { err: lastError, attempt, type: event.type, id: event.id },
          'sink delivery failed; retrying',
        );
        await sleep(delay);
      }
    }
    throw new SnapbackError(ErrorCode.UNAVAILABLE, `could not deliver ${event.type} to the sink`, {
      cause: lastError,
      phase: 'sink',
    });
  };
}
