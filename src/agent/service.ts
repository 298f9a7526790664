/**
 * The Agent service's handlers (proto/snapback/agent/v1/agent.proto) over the executor. Checkpoint and
 * Restore stream progress, then one result; a cancelled or expired call aborts the executor, which rolls back.
 */
import type * as grpc from '@grpc/grpc-js';
import { ErrorCode, SnapbackError } from '../errors.js';
import { checkpoint } from '../executor/checkpoint.js';
import type { ExecutorDeps } from '../executor/deps.js';
import type { ProgressUpdate } from '../executor/phase-clock.js';
import { restore } from '../executor/restore.js';
import type {
  AgentServer,
  CheckpointRequest,
  CheckpointUpdate,
  RestoreResult,
  RestoreUpdate,
} from '../generated/snapback/agent/v1/agent.js';
import { assertCheckpointId, checkpointIdOf } from '../ids.js';
import type { ProcessRuntime } from '../lib/process/index.js';
import { latestCompatible } from '../lib/storage/index.js';
import type { Logger } from '../log.js';
import { callAbortSignal, callDeadline, toStatus, unary } from './edge.js';
import { hooksFromMessage } from './hooks-codec.js';
import { requestedIdentity, wantedIdentity } from './identity-wire.js';
import type { InFlightTable } from './in-flight.js';
import type { AccessPolicy } from './policy.js';
import {
  reusedResult,
  targetKey,
  toInfo,
  toProgress,
  toRestoreResult,
  toTarget,
  toWorkload,
} from './wire.js';

export interface AgentHandlersDeps {
  executor: ExecutorDeps;
  inFlight: InFlightTable;
  policy: AccessPolicy;
  /** Present when the runtime is `process`: workloads are started through the agent. */
  processRuntime: ProcessRuntime | undefined;
  /** Default for requests that do not say (config `--leave-running`). */
  leaveRunning: boolean;
  /** Default for restore requests that do not say (config `--lazy-restore`). */
  lazyByDefault: boolean;
  /** `cudaBackend`: `driver`, `tool`, or `off` when this node runs no CUDA phase. */
  info: { version: string; criuVersion: string; lazyPages: boolean; cudaBackend: string };
}

export function createAgentHandlers(deps: AgentHandlersDeps): AgentServer {
  const { executor, inFlight } = deps;
  const log = executor.logger.child({ component: 'agent-service' });

  const checkpointStream: AgentServer['checkpoint'] = (call) =>
    serveStream<CheckpointUpdate>(call, log, async (signal, send) => {
      const request = call.request;
      const target = await deps.policy.authorize(toTarget(request.target));
      const id =
        request.checkpointId === ''
          ? checkpointIdOf({
              namespace: target.namespace,
              pod: target.pod,
              container: target.container ?? '',
            })
          : assertCheckpointId(request.checkpointId);
      const hooks = hooksFromMessage(request.hooks);
      if (!request.replace) {
        const existing = await executor.store.get(id);
        if (existing !== undefined) return send({ result: reusedResult(existing, target, executor.node) });
      }
      const progress = (u: ProgressUpdate) => send({ progress: toProgress(u) });
      const { promise } = inFlight.start(
        'checkpoint',
        targetKey(target),
        id,
        progress,
        (opSignal, onProgress) =>
          checkpoint(executor, {
            target,
            checkpointId: id,
            replace: request.replace,
            leaveRunning: request.leaveRunning ?? deps.leaveRunning,
            noCuda: request.noCuda,
            signal: AbortSignal.any([opSignal, signal]),
            onProgress,
            hooks: { declared: hooks, bestEffort: request.bestEffortHooks, deadline: callDeadline(call) },
            ...identityOptions(request.identity, request.keep),
          }),
      );
      const result = await promise;
      send({
        result: {
          checkpointId: result.checkpointId,
          location: result.location,
          sizeBytes: result.sizeBytes,
          durationsMs: result.durations,
          node: result.node,
          reused: false,
          version: result.version,
          cudaPids: result.cudaPids,
          createdAt: result.createdAt,
        },
      });
    });

  const restoreStream: AgentServer['restore'] = (call) =>
    serveStream<RestoreUpdate>(call, log, async (signal, send) => {
      const request = call.request;
      const id = assertCheckpointId(request.checkpointId);
      const target =
        request.target && request.target.pod !== ''
          ? await deps.policy.authorize(toTarget(request.target))
          : undefined;
      const hooks = hooksFromMessage(request.hooks);
      // Without a target the restore takes the checkpointed name: one such restore per checkpoint at a time.
      const key = target ? targetKey(target) : `restore-of/${id}`;
      let sentResult = false;
      const sendResult = (result: RestoreResult) => {
        if (sentResult) return;
        sentResult = true;
        send({ result });
      };
      const progress = (u: ProgressUpdate) => send({ progress: toProgress(u) });
      const { promise } = inFlight.start('restore', key, id, progress, async (opSignal, onProgress) => {
        const r = await restore(executor, {
          checkpointId: id,
          target,
          noCuda: request.noCuda,
          lazy: request.lazy ?? deps.lazyByDefault,
          allowPortClash: request.allowPortClash,
          signal: AbortSignal.any([opSignal, signal]),
          onProgress,
          ...(hooks === undefined ? {} : { hooks }),
        });
        const result = toRestoreResult(r);
        // The caller learns the pid as soon as the process runs; a lazy restore goes on without it.
        sendResult(result);
        if (r.pagesComplete === undefined) return { result };
        const pagesComplete = await r.pagesComplete;
        return {
          result,
          pagesComplete: { ...result, durationsMs: { ...result.durationsMs, pagesComplete } },
        };
      });
      const outcome = await promise;
      sendResult(outcome.result);
      if (outcome.pagesComplete !== undefined) send({ pagesComplete: outcome.pagesComplete });
    });

  const requireProcessRuntime = (): ProcessRuntime => {
    if (deps.processRuntime === undefined) {
      throw new SnapbackError(
        ErrorCode.FAILED_PRECONDITION,
        'workloads are started by the agent only under the process runtime',
      );
    }
    return deps.processRuntime;
  };

  return {
    checkpoint: checkpointStream,
    restore: restoreStream,
    listCheckpoints: unary(log, async () => ({ checkpoints: (await executor.store.list()).map(toInfo) })),
    getCheckpoint: unary(log, async (request) => {
      const found = await executor.store.get(assertCheckpointId(request.checkpointId));
      if (found === undefined)
        throw new SnapbackError(ErrorCode.NOT_FOUND, `no checkpoint with id ${request.checkpointId}`);
      return toInfo(found);
    }),
    deleteCheckpoint: unary(log, async (request) => ({
      deleted: await executor.store.remove(assertCheckpointId(request.checkpointId)),
    })),
    startWorkload: unary(log, async (request) => {
      const hooks = hooksFromMessage(request.hooks);
      return toWorkload(
        await requireProcessRuntime().start({
          name: request.name,
          command: request.command,
          cwd: request.cwd || process.cwd(),
          env: request.env,
          ...(hooks === undefined ? {} : { hooks }),
        }),
      );
    }),
    listWorkloads: unary(log, async () => ({
      workloads: (await requireProcessRuntime().list()).map(toWorkload),
    })),
    stopWorkload: unary(log, async (request) =>
      toWorkload(
        await requireProcessRuntime().stopByName(request.name, (request.gracePeriodSeconds ?? 0) * 1000),
      ),
    ),
    findLatestCheckpoint: unary(log, async (request) => {
      if (request.identity === undefined || request.identity.ownerName === '') {
        throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, 'identity.owner_name is required', {
          details: [{ field: 'identity.owner_name', message: 'is required' }],
        });
      }
      const checkpoints = await executor.store.list();
      const { manifest, passedOver } = latestCompatible(
        checkpoints.map((c) => c.manifest),
        wantedIdentity(request.identity, executor.cuda ? (await executor.cuda.identity()).gpus.length : 0),
      );
      const found = checkpoints.find((c) => c.manifest === manifest);
      return { checkpoint: found === undefined ? undefined : toInfo(found), passedOver };
    }),
    startCold: unary(log, async (request) => {
      if (executor.runtime.startCold === undefined) {
        throw new SnapbackError(
          ErrorCode.FAILED_PRECONDITION,
          `the ${executor.runtime.name} runtime has no placeholders to start cold`,
        );
      }
      const target = await deps.policy.authorize(toTarget(request.target));
      await executor.runtime.startCold(target, request.reason || 'nothing to restore');
      return {};
    }),
    getInfo: unary(log, async () => ({
      node: executor.node,
      runtime: executor.runtime.name,
      version: deps.info.version,
      criuVersion: deps.info.criuVersion,
      lazyPages: deps.info.lazyPages,
      cudaBackend: deps.info.cudaBackend,
    })),
  };
}

/**
 * One server-streaming call: `work` sends updates (dropped once the caller has gone) and aborts with the
 * call; its end ends the stream, its failure becomes the call's status.
 */
function serveStream<U>(
  call: grpc.ServerWritableStream<unknown, U>,
  log: Logger,
  work: (signal: AbortSignal, send: (update: U) => void) => Promise<void>,
): void {
  const send = (update: U) => {
    if (!call.cancelled) call.write(update);
  };
  work(callAbortSignal(call), send).then(
    () => call.end(),
    (err: unknown) => call.emit('error', toStatus(err, log)),
  );
}

/** The executor's identity and retention options from a request's. */
function identityOptions(wire: CheckpointRequest['identity'], keep: number) {
  const identity = requestedIdentity(wire);
  return { ...(identity === undefined ? {} : { identity }), ...(keep > 0 ? { keep } : {}) };
}
