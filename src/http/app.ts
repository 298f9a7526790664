/**
 * The functions' HTTP app, built from its dependencies (no listening, no environment): CloudEvents in
 * (binary, structured, batch), validated all-or-nothing, routed to the checkpoint / restore / preemption
 * functions, answered with completion events (reply, or the sink). OPTIONS answers the CloudEvents webhook
 * validation handshake (Azure Event Grid). Health and Prometheus metrics too.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { AgentDispatcher } from '../dispatch/agent-dispatcher.js';
import { createCheckpointHistory } from '../dispatch/checkpoint-history.js';
import type { PodWriter } from '../dispatch/pod-status.js';
import { defaultFanOutSettings, type FanOutSettings } from '../dispatch/preemption.js';
import { type EventRecorder, noopRecorder } from '../dispatch/recorder.js';
import type { Resolver } from '../dispatch/resolver.js';
import { ErrorCode, SnapbackError } from '../errors.js';
import { contentModeOf } from '../events/http.js';
import type { Logger } from '../log.js';
import { type FunctionDefinition, type FunctionName, type FunctionTable, functionNames } from './context.js';
import { IdempotencyCache, type IdempotencyOptions } from './idempotency.js';
import { createFunctionMetrics, type FunctionMetrics } from './metrics.js';
import { PRESTOP_PATH, preStopRoute } from './prestop-route.js';
import { sendError } from './replies.js';
import { handleEvents } from './request.js';
import { createSinkSender, type SinkSender } from './sink.js';
import type { AppState } from './state.js';
import { EVENT_GRID_ORIGIN, webhookValidation } from './webhook-validation.js';

export interface FunctionsAppDeps {
  /** The handlers (functions/index.ts): this module only carries events to them. */
  functions: FunctionTable;
  /** Which function(s) to serve; `all` routes by event type. */
  serve: FunctionName | 'all';
  resolver: Resolver;
  /** Reaches the agents by address. */
  agents: AgentDispatcher;
  log: Logger;
  /** Kubernetes Events on pods (cluster mode); none by default. */
  recorder?: EventRecorder;
  /** A pod's restore status and readiness condition (cluster mode: the restore loop); none by default. */
  pods?: PodWriter;
  /** Completion events go here (binary mode) instead of the HTTP reply. */
  sink?: string | SinkSender;
  /** `source` prefix of completion events (default `/snapback/functions`). */
  source?: string;
  maxBodyBytes?: number;
  fanOut?: Partial<FanOutSettings>;
  idempotency?: IdempotencyOptions;
  sinkRetry?: { attempts?: number; baseDelayMs?: number };
  /** Senders allowed through the CloudEvents webhook validation handshake (default: Azure Event Grid). */
  webhookOrigins?: readonly string[];
  metrics?: FunctionMetrics;
  now?: () => Date;
}

export interface FunctionsApp {
  app: express.Express;
  metrics: FunctionMetrics;
  /** Stops answering ready; the process closes the server and `agents` itself. */
  drain(): void;
}

export function createFunctionsApp(deps: FunctionsAppDeps): FunctionsApp {
  const metrics = deps.metrics ?? createFunctionMetrics();
  const now = deps.now ?? (() => new Date());
  const fanOut = { ...defaultFanOutSettings, ...deps.fanOut };
  const dispatch = {
    resolver: deps.resolver,
    agents: deps.agents,
    recorder: deps.recorder ?? noopRecorder,
    log: deps.log,
    ...(deps.pods === undefined ? {} : { pods: deps.pods }),
    history: createCheckpointHistory(),
  };
  const source = deps.source ?? '/snapback/functions';
  const sink =
    typeof deps.sink === 'string'
      ? createSinkSender({ url: deps.sink, log: deps.log.child({ component: 'sink' }), ...deps.sinkRetry })
      : deps.sink;
  const served =
    deps.serve === 'all' ? functionNames.map((n) => deps.functions[n]) : [deps.functions[deps.serve]];
  const state: AppState = {
    served,
    idempotency: new IdempotencyCache(deps.idempotency),
    metrics,
    sink,
    log: deps.log,
    now,
    context: (fn, traceparent) => ({
      log: deps.log.child({ component: 'function', function: fn }),
      dispatch,
      fanOut,
      source: `${source}/${fn}`,
      now,
      ...(traceparent ? { traceparent } : {}),
      ...(sink ? { emitLater: sink } : {}),
    }),
  };
  let ready = true;
  const app = express();
  app.disable('x-powered-by');
  app.get('/health/liveness', (_req, res) => void res.json({ status: 'ok' }));
  app.get(
    '/health/readiness',
    (_req, res) => void res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'draining' }),
  );
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  const body = express.raw({ type: () => true, limit: deps.maxBodyBytes ?? 1024 * 1024 });
  const route = (path: string, functions: FunctionDefinition[]) =>
    app.post(path, precheck(metrics, path), body, async (req: Request, res: Response) => {
      const status = await handleEvents({ ...state, served: functions }, req, res);
      metrics.requests.inc({ route: path, status: String(status) });
    });
  const validation = webhookValidation({
    allowedOrigins: deps.webhookOrigins ?? [EVENT_GRID_ORIGIN],
    metrics,
  });
  route('/', served);
  app.options('/', validation);
  // A pod's preStop hook, through its relay: on the function that is kept warm (no cold start in a grace period).
  if (served.includes(deps.functions.preemption))
    app.post(PRESTOP_PATH, preStopRoute(state, deps.functions.preStop));
  for (const fn of served) {
    route(`/${fn.name}`, [fn]);
    app.options(`/${fn.name}`, validation);
  }
  app.use(bodyErrors(metrics, deps.log));
  return {
    app,
    metrics,
    drain: () => {
      ready = false;
    },
  };
}

/** 415 before reading a body snapback cannot read. */
function precheck(metrics: FunctionMetrics, path: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    const mode = contentModeOf(req.headers);
    if (typeof mode !== 'object') return next();
    const message = `unsupported content type "${mode.unsupported}": send application/cloudevents+json, application/cloudevents-batch+json, or binary mode with JSON data`;
    sendError(
      res,
      new SnapbackError(ErrorCode.INVALID_ARGUMENT, message, {
        details: [{ field: 'content-type', message }],
      }),
      415,
    );
    metrics.requests.inc({ route: path, status: '415' });
  };
}

/** Body-parser failures: 413 for an oversized body, 415 for an unknown encoding, 400 otherwise. */
function bodyErrors(metrics: FunctionMetrics, log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const type = (err as { type?: unknown }).type;
    const status = type === 'entity.too.large' ? 413 : type === 'encoding.unsupported' ? 415 : 400;
    if (!res.headersSent) {
      const message = status === 413 ? 'request body too large' : 'cannot read the request body';
      sendError(
        res,
        new SnapbackError(ErrorCode.INVALID_ARGUMENT, message, { details: [{ field: '(body)', message }] }),
        status,
      );
    }
    log.warn({ err, path: req.path }, 'request body rejected');
    metrics.requests.inc({ route: req.path, status: String(status) });
  };
}
