/**
 * A typed client of the agent: streaming Checkpoint/Restore with progress, and the unary calls, each
 * with a deadline and an AbortSignal. Failures arrive as SnapbackError with the phase the agent named.
 */
import * as grpc from '@grpc/grpc-js';
import { SnapbackError } from '../errors.js';
import type { AgentClient } from './generated/snapback/agent/v1/Agent.js';
import type { CheckpointRequest } from './generated/snapback/agent/v1/CheckpointRequest.js';
import type { CheckpointResult__Output } from './generated/snapback/agent/v1/CheckpointResult.js';
import type { Progress__Output } from './generated/snapback/agent/v1/Progress.js';
import type { RestoreRequest } from './generated/snapback/agent/v1/RestoreRequest.js';
import type { RestoreResult__Output } from './generated/snapback/agent/v1/RestoreResult.js';
import type { RestoreUpdate__Output } from './generated/snapback/agent/v1/RestoreUpdate.js';
import { agentProto, ERROR_PHASE_KEY } from './proto.js';

export type {
  AgentClient,
  CheckpointResult__Output as CheckpointResult,
  Progress__Output as Progress,
  RestoreResult__Output as RestoreResult,
};

export interface CallOptions {
  /** Absolute deadline; propagates to the agent, which aborts and rolls back when it passes. */
  deadline?: Date;
  signal?: AbortSignal;
  onProgress?: (progress: Progress__Output) => void;
  /** Extra request metadata, e.g. `traceparent`. */
  metadata?: Readonly<Record<string, string>>;
}

export function connectAgent(address: string, credentials = grpc.credentials.createInsecure()): AgentClient {
  return new agentProto.snapback.agent.v1.Agent(address, credentials, {
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
  });
}

export function checkpointCall(
  client: AgentClient,
  request: CheckpointRequest,
  options: CallOptions = {},
): Promise<CheckpointResult__Output> {
  if (options.signal?.aborted) return Promise.reject(SnapbackError.from(options.signal.reason, 'CANCELLED'));
  return streamToResult(
    client.Checkpoint(request, metadataOf(options), callOptions(options)),
    options,
    'checkpoint',
  );
}

/** A restore's result; a lazy one also says when (or whether) every page arrived. */
export type RestoreOutcome = RestoreResult__Output & {
  /** Lazy restores: the result again with `durationsMs.pagesComplete`, once every page is in. */
  pagesComplete?: Promise<RestoreResult__Output>;
};

/**
 * Resolves as soon as the restored process runs. For a lazy restore the stream goes on until every page
 * has arrived: `pagesComplete` settles then (or rejects if the transfer broke and the process was killed).
 */
export function restoreCall(
  client: AgentClient,
  request: RestoreRequest,
  options: CallOptions = {},
): Promise<RestoreOutcome> {
  if (options.signal?.aborted) return Promise.reject(SnapbackError.from(options.signal.reason, 'CANCELLED'));
  const call = client.Restore(request, metadataOf(options), callOptions(options));
  let finish: { resolve: (r: RestoreResult__Output) => void; reject: (e: unknown) => void } | undefined;
  const pagesComplete =
    request.lazy === true
      ? new Promise<RestoreResult__Output>((resolve, reject) => {
          finish = { resolve, reject };
        })
      : undefined;
  pagesComplete?.catch(() => {});
  return new Promise((resolve, reject) => {
    let result: RestoreResult__Output | undefined;
    const onAbort = () => call.cancel();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    call.on('data', (update: RestoreUpdate__Output) => {
      if (update.progress) options.onProgress?.(update.progress);
      if (update.result && result === undefined) {
        result = update.result;
        resolve(pagesComplete === undefined ? result : { ...result, pagesComplete });
      }
      if (update.pagesComplete) finish?.resolve(update.pagesComplete);
    });
    call.on('error', (err: grpc.ServiceError) => {
      options.signal?.removeEventListener('abort', onAbort);
      const reason = options.signal?.aborted ? options.signal.reason : undefined;
      const error = reason instanceof SnapbackError ? reason : fromServiceError(err);
      if (result === undefined) reject(error);
      finish?.reject(error);
    });
    call.on('end', () => {
      options.signal?.removeEventListener('abort', onAbort);
      if (result === undefined)
        reject(new SnapbackError('INTERNAL', 'the agent ended the restore stream without a result'));
      finish?.reject(
        new SnapbackError('INTERNAL', 'the agent ended the lazy restore without saying every page arrived'),
      );
    });
  });
}

/** Promisifies one unary method: `unaryCall(client, 'ListCheckpoints', {})`. */
export function unaryCall<M extends UnaryMethod>(
  client: AgentClient,
  method: M,
  request: UnaryRequest<M>,
  options: CallOptions = {},
): Promise<UnaryResponse<M>> {
  return new Promise((resolve, reject) => {
    const fn = client[method] as unknown as (
      req: unknown,
      metadata: grpc.Metadata,
      opts: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, res?: UnaryResponse<M>) => void,
    ) => grpc.ClientUnaryCall;
    const call = fn.call(client, request, metadataOf(options), callOptions(options), (err, res) => {
      if (err) reject(fromServiceError(err));
      else resolve(res as UnaryResponse<M>);
    });
    options.signal?.addEventListener('abort', () => call.cancel(), { once: true });
  });
}

type UnaryMethod =
  | 'ListCheckpoints'
  | 'GetCheckpoint'
  | 'DeleteCheckpoint'
  | 'StartWorkload'
  | 'ListWorkloads'
  | 'StopWorkload'
  | 'GetInfo';
type UnaryRequest<M extends UnaryMethod> = Parameters<AgentClient[M]>[0];
type UnaryResponse<M extends UnaryMethod> = Parameters<
  Extract<Parameters<AgentClient[M]>[1], (...args: never[]) => unknown>
>[1] extends infer R | undefined
  ? NonNullable<R>
  : never;

function metadataOf(options: CallOptions): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value);
  return metadata;
}

function callOptions(options: CallOptions): grpc.CallOptions {
  return options.deadline === undefined ? {} : { deadline: options.deadline };
}

function streamToResult<T>(
  call: grpc.ClientReadableStream<{ progress?: Progress__Output | null; result?: T | null; update?: string }>,
  options: CallOptions,
  what: string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let result: T | undefined;
    const onAbort = () => call.cancel();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    call.on('data', (update) => {
      if (update.progress) options.onProgress?.(update.progress);
      if (update.result) result = update.result;
    });
    call.on('error', (err: grpc.ServiceError) => {
      options.signal?.removeEventListener('abort', onAbort);
      // A call we cancelled ends with CANCELLED; the caller's own reason says more.
      const reason = options.signal?.aborted ? options.signal.reason : undefined;
      reject(reason instanceof SnapbackError ? reason : fromServiceError(err));
    });
    call.on('end', () => {
      options.signal?.removeEventListener('abort', onAbort);
      if (result !== undefined) resolve(result);
      else reject(new SnapbackError('INTERNAL', `the agent ended the ${what} stream without a result`));
    });
  });
}

export function fromServiceError(err: grpc.ServiceError): SnapbackError {
  const mapped = SnapbackError.from(err);
  const phase = err.metadata?.get(ERROR_PHASE_KEY)[0];
  return typeof phase === 'string' ? mapped.inPhase(phase) : mapped;
}
