/**
 * One HTTP request of events: parse and validate every event first (a batch is all-or-nothing: one bad
 * event and nothing is dispatched), route each to its function once per `source`+`id`, then deliver the
 * completion events to the sink or answer them.
 */
import type { CloudEvent } from 'cloudevents';
import type { Request, Response } from 'express';
import { ErrorCode, type ErrorDetail, SnapbackError } from '../errors.js';
import { ContentMode, contentModeOf, parseHttpEvents } from '../events/http.js';
import { EventType } from '../events/types.js';
import { type FunctionDefinition, traceparentOf } from './context.js';
import { IdempotencyCache, type Once } from './idempotency.js';
import { sendError, sendEvents } from './replies.js';
import type { AppState } from './state.js';

interface Routed {
  event: CloudEvent<unknown>;
  fn: FunctionDefinition;
}

function route(state: AppState, events: CloudEvent<unknown>[], batch: boolean): Routed[] {
  const problems: ErrorDetail[] = [];
  const routed: Routed[] = [];
  const now = state.now();
  events.forEach((event, i) => {
    const where = batch ? `events[${i}].` : '';
    const fn = state.served.find((f) => f.accepts(event));
    if (fn === undefined) {
      const handled = state.served.map((f) => f.name).join(', ');
      problems.push({
        field: `${where}type`,
        message: `"${event.type}" is not an event type handled here (functions: ${handled}; types: ${Object.values(
          EventType,
        )
          .filter((t) => t.endsWith('requested') || t.endsWith('noticed'))
          .join(', ')} and preemption notices)`,
      });
      return;
    }
    try {
      fn.validate(event, now);
      routed.push({ event, fn });
    } catch (err) {
      const error = SnapbackError.from(err);
      const details = error.details.length > 0 ? error.details : [{ field: 'data', message: error.message }];
      problems.push(...details.map((d) => ({ field: `${where}${d.field}`, message: d.message })));
    }
  });
  if (problems.length > 0) {
    const summary = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
    throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, `invalid event: ${summary}`, { details: problems });
  }
  return routed;
}

function asList(reply: CloudEvent<unknown> | CloudEvent<unknown>[] | undefined): CloudEvent<unknown>[] {
  return reply === undefined ? [] : Array.isArray(reply) ? reply : [reply];
}

function observe(state: AppState, replies: CloudEvent<unknown>[]): void {
  for (const reply of replies) {
    const [operation, outcome] = reply.type.replace('io.snapback.', '').split('.');
    state.metrics.outcomes.inc({ operation: operation!, outcome: outcome! });
    const durations = (reply.data as { durations?: Record<string, number> } | undefined)?.durations;
    if (durations && operation !== 'preemption') state.metrics.observeDurations(operation!, durations);
  }
}

async function run(
  state: AppState,
  { event, fn }: Routed,
  header: string | undefined,
): Promise<Once<CloudEvent<unknown>[]>> {
  const work = async () => {
    const replies = asList(await fn.handle(state.context(fn.name, traceparentOf(event) ?? header), event));
    observe(state, replies);
    return replies;
  };
  const ref = fn.idempotencyRef?.(event);
  // An event that asks for nothing is not remembered: it would only push out what must be.
  if (ref === null) return notRemembered(await work());
  const key = IdempotencyCache.keyOf(fn.name, ref?.source ?? event.source, ref?.id ?? event.id);
  const once = await state.idempotency.run(key, work);
  if (once.duplicate) {
    state.metrics.duplicates.inc({ function: fn.name });
    state.log.info(
      { function: fn.name, source: event.source, id: event.id },
      'duplicate event: same outcome',
    );
  }
  return once;
}

function notRemembered(value: CloudEvent<unknown>[]): Once<CloudEvent<unknown>[]> {
  const marks = new Set<string>();
  return {
    value,
    duplicate: false,
    mark: (name) => marks.add(name),
    unmark: (name) => marks.delete(name),
    isMarked: (name) => marks.has(name),
  };
}

/** Sends each outcome's events to the sink once (a duplicate request finds them sent). */
export async function deliverToSink(state: AppState, outcomes: Once<CloudEvent<unknown>[]>[]): Promise<void> {
  const sink = state.sink!;
  for (const once of outcomes) {
    // Marked before sending: a duplicate arriving meanwhile must not send the same events again; a failed
    // delivery unmarks, and the failed request's retry sends them.
    if (once.isMarked('sink')) continue;
    once.mark('sink');
    for (const event of once.value) {
      try {
        await sink(event);
        state.metrics.sinkDeliveries.inc({ outcome: 'delivered' });
      } catch (err) {
        state.metrics.sinkDeliveries.inc({ outcome: 'failed' });
        once.unmark('sink');
        throw err;
      }
    }
  }
}

/** Handles one request; returns the HTTP status sent. */
export async function handleEvents(state: AppState, req: Request, res: Response): Promise<number> {
  try {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const batch = contentModeOf(req.headers) === ContentMode.BATCH;
    const routed = route(state, parseHttpEvents(req.headers, body), batch);
    const header = typeof req.headers['traceparent'] === 'string' ? req.headers['traceparent'] : undefined;
    const outcomes = await Promise.all(routed.map((r) => run(state, r, header)));
    if (state.sink !== undefined) {
      await deliverToSink(state, outcomes);
      res.status(202).end();
      return 202;
    }
    return sendEvents(
      res,
      outcomes.flatMap((o) => o.value),
    );
  } catch (err) {
    const error = SnapbackError.from(err);
    if (error.code !== ErrorCode.INVALID_ARGUMENT) state.log.error({ err: error }, 'request failed');
    return sendError(res, error);
  }
}
