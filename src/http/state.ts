/** What a request of events needs from the app: the served functions, caches, metrics, the sink. */
import type { CloudEvent } from 'cloudevents';
import type { Logger } from '../log.js';
import type { FunctionContext, FunctionDefinition, FunctionName } from './context.js';
import type { IdempotencyCache } from './idempotency.js';
import type { FunctionMetrics } from './metrics.js';
import type { SinkSender } from './sink.js';

export interface AppState {
  served: FunctionDefinition[];
  idempotency: IdempotencyCache<CloudEvent<unknown>[]>;
  metrics: FunctionMetrics;
  sink: SinkSender | undefined;
  context: (fn: FunctionName, traceparent: string | undefined) => FunctionContext;
  log: Logger;
  now: () => Date;
}
