/**
 * A connection to one agent: a promise per call over the client ts-proto generates from the contract
 * (proto/snapback/agent/v1/agent.proto). Checkpoint and Restore stream progress, read with `for await`, and
 * end with one result. Every call takes a deadline, an AbortSignal and metadata; failures arrive as
 * SnapbackError with the phase the agent named.
 */
import * as grpc from '@grpc/grpc-js';
import { SnapbackError } from '../errors.js';
import {
  type AgentInfo,
  AgentClient as AgentServiceClient,
  type CheckpointInfo,
  CheckpointRequest,
  type CheckpointResult,
  type DeepPartial,
  DeleteCheckpointRequest,
  type DeleteCheckpointResponse,
  FindLatestCheckpointRequest,
  type FindLatestCheckpointResponse,
  GetCheckpointRequest,
  GetInfoRequest,
  ListCheckpointsRequest,
  type ListCheckpointsResponse,
  ListWorkloadsRequest,
  type ListWorkloadsResponse,
  type Progress,
  RestoreRequest,
  type RestoreResult,
  StartColdRequest,
  type StartColdResponse,
  StartWorkloadRequest,
  StopWorkloadRequest,
  type Workload,
} from '../generated/snapback/agent/v1/agent.js';
import { ERROR_PHASE_KEY } from './proto.js';

export type { CheckpointInfo, CheckpointResult, Progress, RestoreResult, Workload };

export interface AgentCallOptions {
  /** Absolute deadline; propagates to the agent, which aborts and rolls back when it passes. */
  deadline?: Date;
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  /** Extra request metadata, e.g. `traceparent`. */
  metadata?: Readonly<Record<string, string>>;
}

/** A restore's result; a lazy one also says when (or whether) every page arrived. */
export interface RestoreCallResult extends RestoreResult {
  /** Lazy restores: the result again with `durationsMs.pagesComplete`, once every page is in. */
  pagesComplete?: Promise<RestoreResult>;
}

/** The Agent service as promises. Requests may leave out fields: they take the contract's defaults. */
export interface AgentConnection {
  checkpoint(request: DeepPartial<CheckpointRequest>, options?: AgentCallOptions): Promise<CheckpointResult>;
  /**
   * Resolves as soon as the restored process runs. For a lazy restore the stream goes on until every page
   * has arrived: `pagesComplete` settles then (or rejects if the transfer broke and the process was killed).
   */
  restore(request: DeepPartial<RestoreRequest>, options?: AgentCallOptions): Promise<RestoreCallResult>;
  listCheckpoints(
    request?: DeepPartial<ListCheckpointsRequest>,
    options?: AgentCallOptions,
  ): Promise<ListCheckpointsResponse>;
  getCheckpoint(
    request: DeepPartial<GetCheckpointRequest>,
    options?: AgentCallOptions,
  ): Promise<CheckpointInfo>;
  deleteCheckpoint(
    request: DeepPartial<DeleteCheckpointRequest>,
    options?: AgentCallOptions,
  ): Promise<DeleteCheckpointResponse>;
  startWorkload(request: DeepPartial<StartWorkloadRequest>, options?: AgentCallOptions): Promise<Workload>;
  listWorkloads(
    request?: DeepPartial<ListWorkloadsRequest>,
    options?: AgentCallOptions,
  ): Promise<ListWorkloadsResponse>;
  stopWorkload(request: DeepPartial<StopWorkloadRequest>, options?: AgentCallOptions): Promise<Workload>;
  getInfo(request?: DeepPartial<GetInfoRequest>, options?: AgentCallOptions): Promise<AgentInfo>;
  findLatestCheckpoint(
    request: DeepPartial<FindLatestCheckpointRequest>,
    options?: AgentCallOptions,
  ): Promise<FindLatestCheckpointResponse>;
  startCold(request: DeepPartial<StartColdRequest>, options?: AgentCallOptions): Promise<StartColdResponse>;
  close(): void;
}

export function connectAgent(
  address: string,
  credentials = grpc.credentials.createInsecure(),
): AgentConnection {
  const client = new AgentServiceClient(address, credentials, {
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
  });
  const toError = errorMapperOf(client, address);
  return {
    checkpoint: (request, options = {}) =>
      streamedResult(options, 'checkpoint', toError, () =>
        client.checkpoint(
          CheckpointRequest.fromPartial(request),
          metadataOf(options),
          callOptionsOf(options),
        ),
      ),
    restore: (request, options = {}) =>
      restoreCall(client, RestoreRequest.fromPartial(request), options, toError),
    listCheckpoints: (request = {}, options = {}) =>
      unary(options, toError, (m, o, done) =>
        client.listCheckpoints(ListCheckpointsRequest.fromPartial(request), m, o, done),
      ),
    getCheckpoint: (request, options = {}) =>
      unary(options, toError, (m, o, done) =>
        client.getCheckpoint(GetCheckpointRequest.fromPartial(request), m, o, done),
      ),
    deleteCheckpoint: (request, options = {}) =>
      unary(options, toError, (m, o, done) =>
        client.deleteCheckpoint(DeleteCheckpointRequest.fromPartial(request), m, o, done),
      ),
    startWorkload: (request, options = {}) =>
      unary(options, toError, (m, o, done) =>
        client.startWorkload(StartWorkloadRequest.fromPartial(request), m, o, done),
      ),
    listWorkloads: (request = {}, options = {}) =>
      unary(options, toError, (m, o, done) =>
        client.listWorkloads(ListWorkloadsRequest.fromPartial(request), m, o, done),
      ),
    stopWorkload: (request, options = {}) =>
      unary(options, toError, (m, o, done) =>
        client.stopWorkload(StopWorkloadRequest.fromPartial(request), m, o, done),
      ),
    findLatestCheckpoint: (request, options = {}) =>
      unary(options, toError, (m, o, done) =>
        client.findLatestCheckpoint(FindLatestCheckpointRequest.fromPartial(request), m, o, done),
      ),
    startCold: (request, options = {}) =>
      unary(options, toError, (m, o, done) =>
        client.startCold(StartColdRequest.fromPartial(request), m, o, done),
      ),
    getInfo: (request = {}, options = {}) =>
      unary(options, toError, (m, o, done) =>
        client.getInfo(GetInfoRequest.fromPartial(request), m, o, done),
      ),
    close: () => client.close(),
  };
}

/** A failed call of one connection, as a SnapbackError. */
type ErrorMapper = (err: unknown) => SnapbackError;

/**
 * The mapper of one connection: a call that failed while no connection to the agent stands (refused,
 * unresolvable, never answered) says so in words instead of grpc-js's transport text; a status the agent
 * itself sent keeps its message and gains the phase the agent named.
 */
function errorMapperOf(client: AgentServiceClient, address: string): ErrorMapper {
  return (err) => {
    const mapped = SnapbackError.from(err);
    const metadata = err instanceof Error && 'metadata' in err ? err.metadata : undefined;
    const phase = metadata instanceof grpc.Metadata ? metadata.get(ERROR_PHASE_KEY)[0] : undefined;
    if (typeof phase === 'string') return mapped.inPhase(phase);
    const connected = client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY;
    const transport = mapped.code === 'UNAVAILABLE' || mapped.code === 'DEADLINE_EXCEEDED';
    if (connected || !transport) return mapped;
    return new SnapbackError('UNAVAILABLE', `no agent answers at ${address} (${transportReason(mapped)})`, {
      cause: err,
      details: [{ field: UNREACHABLE_AGENT, message: address }],
    });
  };
}

const UNREACHABLE_AGENT = 'agent';

/** The address of the agent `err` found no answer at, when that is what `err` says; else undefined. */
export function unreachableAgentOf(err: unknown): string | undefined {
  if (!(err instanceof SnapbackError) || err.code !== 'UNAVAILABLE') return undefined;
  return err.details.find((d) => d.field === UNREACHABLE_AGENT)?.message;
}

/** grpc-js's `No connection established. Last error: Error: connect ECONNREFUSED …` → `connect ECONNREFUSED …`. */
function transportReason(err: SnapbackError): string {
  if (err.code === 'DEADLINE_EXCEEDED') return 'no connection before the deadline';
  const last = /Last error: (?:Error: )?(.*?)\.?(?: Resolution note:.*)?$/s.exec(err.message)?.[1];
  return (last ?? err.message).trim() || 'no connection';
}

type Done<T> = (err: grpc.ServiceError | null, response: T) => void;

/** One unary call as a promise: cancelled with the signal, its failure mapped. */
function unary<T>(
  options: AgentCallOptions,
  toError: ErrorMapper,
  start: (
    metadata: grpc.Metadata,
    callOptions: Partial<grpc.CallOptions>,
    done: Done<T>,
  ) => grpc.ClientUnaryCall,
): Promise<T> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(SnapbackError.from(signal.reason, 'CANCELLED'));
  return new Promise((resolve, reject) => {
    let call: grpc.ClientUnaryCall | undefined;
    const onAbort = () => call?.cancel();
    call = start(metadataOf(options), callOptionsOf(options), (err, response) => {
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(abortReason(signal) ?? toError(err));
      else resolve(response);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The updates of a server stream, cancelled with the signal; a failure is thrown mapped. */
async function* updatesOf<U>(
  stream: grpc.ClientReadableStream<U>,
  signal: AbortSignal | undefined,
  toError: ErrorMapper,
): AsyncGenerator<U> {
  const onAbort = () => stream.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const update of stream) yield update;
  } catch (err) {
    // A call we cancelled ends with CANCELLED; the caller's own reason says more.
    throw abortReason(signal) ?? toError(err);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Progress to `onProgress`, and the one result the stream ends with. */
async function streamedResult<R>(
  options: AgentCallOptions,
  what: string,
  toError: ErrorMapper,
  start: () => grpc.ClientReadableStream<{ progress?: Progress | undefined; result?: R | undefined }>,
): Promise<R> {
  if (options.signal?.aborted) throw SnapbackError.from(options.signal.reason, 'CANCELLED');
  let result: R | undefined;
  for await (const update of updatesOf(start(), options.signal, toError)) {
    if (update.progress) options.onProgress?.(update.progress);
    if (update.result) result = update.result;
  }
  if (result === undefined)
    throw new SnapbackError('INTERNAL', `the agent ended the ${what} stream without a result`);
  return result;
}

function restoreCall(
  client: AgentServiceClient,
  request: RestoreRequest,
  options: AgentCallOptions,
  toError: ErrorMapper,
): Promise<RestoreCallResult> {
  if (options.signal?.aborted) return Promise.reject(SnapbackError.from(options.signal.reason, 'CANCELLED'));
  const stream = client.restore(request, metadataOf(options), callOptionsOf(options));
  const running = Promise.withResolvers<RestoreCallResult>();
  const pages = request.lazy === true ? Promise.withResolvers<RestoreResult>() : undefined;
  pages?.promise.catch(() => {});
  void (async () => {
    let result: RestoreResult | undefined;
    try {
      for await (const update of updatesOf(stream, options.signal, toError)) {
        if (update.progress) options.onProgress?.(update.progress);
        if (update.result && result === undefined) {
          result = update.result;
          running.resolve(pages === undefined ? result : { ...result, pagesComplete: pages.promise });
        }
        if (update.pagesComplete) pages?.resolve(update.pagesComplete);
      }
      if (result === undefined)
        throw new SnapbackError('INTERNAL', 'the agent ended the restore stream without a result');
      pages?.reject(
        new SnapbackError('INTERNAL', 'the agent ended the lazy restore without saying every page arrived'),
      );
    } catch (err) {
      // Settled promises ignore this: it reaches whichever of the two is still waiting.
      running.reject(err);
      pages?.reject(err);
    }
  })();
  return running.promise;
}

function abortReason(signal: AbortSignal | undefined): SnapbackError | undefined {
  const reason = signal?.aborted ? signal.reason : undefined;
  return reason instanceof SnapbackError ? reason : undefined;
}

function metadataOf(options: AgentCallOptions): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value);
  return metadata;
}

function callOptionsOf(options: AgentCallOptions): Partial<grpc.CallOptions> {
  return options.deadline === undefined ? {} : { deadline: options.deadline };
}
