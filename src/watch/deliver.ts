/**
 * Posting a notice event (binary mode, the `cloudevents` SDK's HTTP binding, as src/http/sink.ts) and
 * retrying — network errors, 408, 429, 5xx — with capped exponential backoff until it is accepted, the
 * notice's deadline passes, or the watcher stops. Another 4xx is final: the receiver refuses the event.
 */
import { type CloudEvent, HTTP } from 'cloudevents';
import { ErrorCode, SnapbackError } from '../errors.js';
import type { Logger } from '../log.js';
import { idle } from './poll-loop.js';

export interface DeliveryOptions {
  url: string;
  /** Give up after this instant (a notice's deadline); absent: retry until stopped. */
  until?: Date;
  /** Per request: the receiver may hold the request while it works (the preemption function does). */
  timeoutMs: number;
  /** At most this many tries (default: until `until` or stopped). */
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  log: Logger;
  signal: AbortSignal;
}

export interface Delivered {
  status: number;
  headers: Headers;
  body: string;
}

const retryable = (status: number) => status === 408 || status === 429 || status >= 500;

export async function deliver(event: CloudEvent<unknown>, options: DeliveryOptions): Promise<Delivered> {
  const message = HTTP.binary(event);
  const headers = Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, String(v)]));
  const base = options.baseDelayMs ?? 200;
  const max = options.maxDelayMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    let failure: string;
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        headers,
        body: message.body as string,
        signal: AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]),
      });
      const body = await response.text();
      if (response.ok) return { status: response.status, headers: response.headers, body };
      failure = `${options.url} answered ${response.status}: ${body.slice(0, 300)}`;
      if (!retryable(response.status)) {
        throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, `refused: ${failure}`, { phase: 'deliver' });
      }
    } catch (err) {
      if (err instanceof SnapbackError) throw err;
      if (options.signal.aborted)
        throw new SnapbackError(ErrorCode.CANCELLED, 'watcher stopped', { cause: err });
      failure = `${options.url}: ${(err as Error).message}`;
    }
    const delay = Math.min(max, base * 2 ** (attempt - 1));
    if (options.attempts !== undefined && attempt >= options.attempts) {
      throw new SnapbackError(ErrorCode.UNAVAILABLE, `not delivered after ${attempt} tries: ${failure}`, {
        phase: 'deliver',
      });
    }
    if (options.until !== undefined && Date.now() + delay > options.until.getTime()) {
      throw new SnapbackError(ErrorCode.DEADLINE_EXCEEDED, `not delivered before the deadline: ${failure}`, {
        phase: 'deliver',
      });
    }
    options.log.warn({ attempt, type: event.type, id: event.id, failure }, 'notice not delivered; retrying');
    await idle(delay, options.signal);
    if (options.signal.aborted) throw new SnapbackError(ErrorCode.CANCELLED, 'watcher stopped');
  }
}
