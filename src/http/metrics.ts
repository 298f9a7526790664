/**
 * Prometheus metrics of the functions, on a registry of their own (one per app, so tests do not collide):
 * requests by route and status, outcomes by operation, phase-duration histograms, duplicates, sink deliveries.
 */
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { Durations } from '../events/types.js';

export interface FunctionMetrics {
  registry: Registry;
  requests: Counter<'route' | 'status'>;
  outcomes: Counter<'operation' | 'outcome'>;
  phaseSeconds: Histogram<'operation' | 'phase'>;
  duplicates: Counter<'function'>;
  sinkDeliveries: Counter<'outcome'>;
  observeDurations(operation: string, durations: Durations): void;
}

export function createFunctionMetrics(options: { defaultMetrics?: boolean } = {}): FunctionMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const phaseSeconds = new Histogram({
    name: 'snapback_phase_duration_seconds',
    help: 'Duration of each checkpoint/restore phase, as reported in completion events',
    labelNames: ['operation', 'phase'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers,
  });
  return {
    registry,
    requests: new Counter({
      name: 'snapback_function_requests_total',
      help: 'HTTP requests to the functions by route and status',
      labelNames: ['route', 'status'] as const,
      registers,
    }),
    outcomes: new Counter({
      name: 'snapback_function_outcomes_total',
      help: 'Completion events by operation and outcome',
      labelNames: ['operation', 'outcome'] as const,
      registers,
    }),
    phaseSeconds,
    duplicates: new Counter({
      name: 'snapback_function_duplicate_events_total',
      help: 'Events answered from the idempotency cache (same source+id)',
      labelNames: ['function'] as const,
      registers,
    }),
    sinkDeliveries: new Counter({
      name: 'snapback_sink_deliveries_total',
      help: 'Completion events delivered to the sink, by outcome',
      labelNames: ['outcome'] as const,
      registers,
    }),
    observeDurations(operation, durations) {
      for (const [phase, ms] of Object.entries(durations))
        phaseSeconds.observe({ operation, phase }, ms / 1000);
    },
  };
}
