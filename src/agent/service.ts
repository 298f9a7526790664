/**
 * The Agent service (proto/snapback/agent/v1/agent.proto) over the executor. Checkpoint and Restore
 * stream progress, then one result; a cancelled or expired call aborts the executor, which rolls back.
 */
import type * as grpc from '@grpc/grpc-js';
import { ErrorCode, SnapbackError } from '../errors.js';
import { checkpoint } from '../executor/checkpoint.js';
import type { ExecutorDeps } from '../executor/deps.js';
import type { ProgressUpdate } from '../executor/phase-clock.js';
import { type RestoreOutput, restore } from '../executor/restore.js';
import { assertCheckpointId, deriveCheckpointId } from '../ids.js';
import type { ProcessRuntime, WorkloadStatus } from '../lib/process/index.js';
import type { TargetRef } from '../lib/runtime/index.js';
import type { StoredCheckpoint } from '../lib/storage/index.js';
import { signalOf, toStatus, unary } from './edge.js';
import type { AgentHandlers } from './generated/snapback/agent/v1/Agent.js';
import type { CheckpointResult } from './generated/snapback/agent/v1/CheckpointResult.js';
import type { Progress } from './generated/snapback/agent/v1/Progress.js';
import type { RestoreResult } from './generated/snapback/agent/v1/RestoreResult.js';
import type { Target__Output } from './generated/snapback/agent/v1/Target.js';
import type { Workload } from './generated/snapback/agent/v1/Workload.js';
import type { OperationRegistry } from './in-flight.js';
import type { AccessPolicy } from './policy.js';

export interface AgentServiceDeps {
  executor: ExecutorDeps;
  operations: OperationRegistry;
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

export function createAgentService(deps: AgentServiceDeps): AgentHandlers {
  const { executor, operations } = deps;
  const log = executor.logger.child({ component: 'agent-service' });

  const Checkpoint: grpc.handleServerStreamingCall<never, never> = (call) => {
    const stream = call as unknown as grpc.ServerWritableStream<
      Parameters<AgentHandlers['Checkpoint']>[0]['request'],
      { progress?: Progress; result?: CheckpointResult }
    >;
    const signal = signalOf(stream);
    const send = (update: ProgressUpdate) => {
      if (!stream.cancelled) stream.write({ progress: toProgress(update) });
    };
    (async () => {
      const request = stream.request;
      const target = await deps.policy.authorize(toTarget(request.target));
      const id =
        request.checkpointId === ''
          ? deriveCheckpointId(`${target.namespace}-${target.pod}`, [
              target.namespace,
              target.pod,
              target.container ?? '',
            ])
          : assertCheckpointId(request.checkpointId);
      if (!request.replace) {
        const existing = await executor.store.get(id);
        if (existing !== undefined) return reusedResult(existing, target, executor.node);
      }
      const { promise } = operations.start('checkpoint', targetKey(target), id, send, (opSignal, progress) =>
        checkpoint(executor, {
          target,
          checkpointId: id,
          replace: request.replace,
          leaveRunning: request.leaveRunning ?? deps.leaveRunning,
          noCuda: request.noCuda,
          signal: AbortSignal.any([opSignal, signal]),
          onProgress: progress,
        }),
      );
      const result = await promise;
      return {
        checkpointId: result.checkpointId,
        location: result.location,
        sizeBytes: result.sizeBytes,
        durationsMs: result.durations,
        node: result.node,
        reused: false,
        version: result.version,
        cudaPids: result.cudaPids,
        createdAt: result.createdAt,
      } satisfies CheckpointResult;
    })().then(
      (result) => {
        stream.write({ result });
        stream.end();
      },
      (err: unknown) => stream.emit('error', toStatus(err, log)),
    );
  };

  const Restore: grpc.handleServerStreamingCall<never, never> = (call) => {
    const stream = call as unknown as grpc.ServerWritableStream<
      Parameters<AgentHandlers['Restore']>[0]['request'],
      object
    >;
    const signal = signalOf(stream);
    (async () => {
      const request = stream.request;
      const id = assertCheckpointId(request.checkpointId);
      const target =
        request.target && request.target.pod !== ''
          ? await deps.policy.authorize(toTarget(request.target))
          : undefined;
      // Without a target the restore takes the checkpointed name: one such restore per checkpoint at a time.
      const key = target ? targetKey(target) : `restore-of/${id}`;
      let sentResult = false;
      const sendResult = (result: RestoreResult) => {
        if (sentResult || stream.cancelled) return;
        sentResult = true;
        stream.write({ result });
      };
      const { promise } = operations.start(
        'restore',
        key,
        id,
        (u) => stream.write({ progress: toProgress(u) }),
        async (opSignal, progress) => {
          const r = await restore(executor, {
            checkpointId: id,
            target,
            noCuda: request.noCuda,
            lazy: request.lazy ?? deps.lazyByDefault,
            signal: AbortSignal.any([opSignal, signal]),
            onProgress: progress,
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
        },
      );
      const outcome = await promise;
      sendResult(outcome.result);
      if (outcome.pagesComplete !== undefined && !stream.cancelled)
        stream.write({ pagesComplete: outcome.pagesComplete });
    })().then(
      () => stream.end(),
      (err: unknown) => stream.emit('error', toStatus(err, log)),
    );
  };

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
    Checkpoint,
    Restore,
    ListCheckpoints: unary(log, async () => ({ checkpoints: (await executor.store.list()).map(toInfo) })),
    GetCheckpoint: unary(log, async (request) => {
      const found = await executor.store.get(assertCheckpointId(request.checkpointId));
      if (found === undefined)
        throw new SnapbackError(ErrorCode.NOT_FOUND, `no checkpoint with id ${request.checkpointId}`);
      return toInfo(found);
    }),
    DeleteCheckpoint: unary(log, async (request) => ({
      deleted: await executor.store.remove(assertCheckpointId(request.checkpointId)),
    })),
    StartWorkload: unary(log, async (request) =>
      toWorkload(
        await requireProcessRuntime().start({
          name: request.name,
          command: request.command,
          cwd: request.cwd || process.cwd(),
          env: request.env,
        }),
      ),
    ),
    ListWorkloads: unary(log, async () => ({
      workloads: (await requireProcessRuntime().list()).map(toWorkload),
    })),
    StopWorkload: unary(log, async (request) =>
      toWorkload(await requireProcessRuntime().stopByName(request.name)),
    ),
    GetInfo: unary(log, async () => ({
      node: executor.node,
      runtime: executor.runtime.name,
      version: deps.info.version,
      criuVersion: deps.info.criuVersion,
      lazyPages: deps.info.lazyPages,
      cudaBackend: deps.info.cudaBackend,
    })),
  } as AgentHandlers;
}

function toRestoreResult(r: RestoreOutput): RestoreResult {
  return {
    checkpointId: r.checkpointId,
    restoredPid: r.restoredPid,
    namespacePid: r.namespacePid ?? 0,
    durationsMs: r.durations,
    node: r.node,
    workload: r.workload,
  };
}

function toTarget(target: Target__Output | null): TargetRef {
  if (target === null || target.pod === '') {
    throw new SnapbackError(
      ErrorCode.INVALID_ARGUMENT,
      'target.pod is required (the pod, or the workload name)',
      {
        details: [{ field: 'target.pod', message: 'is required' }],
      },
    );
  }
  return {
    namespace: target.namespace || 'default',
    pod: target.pod,
    ...(target.container === '' ? {} : { container: target.container }),
    ...(target.containerId === '' ? {} : { containerId: target.containerId }),
  };
}

function targetKey(t: TargetRef): string {
  return `${t.namespace}/${t.pod}/${t.container ?? ''}`;
}

function toProgress(u: ProgressUpdate): Progress {
  return {
    phase: u.phase,
    state: u.state,
    bytesDone: u.bytesDone ?? 0,
    bytesTotal: u.bytesTotal ?? 0,
    message: u.message ?? '',
  };
}

function reusedResult(existing: StoredCheckpoint, target: TargetRef, node: string): CheckpointResult {
  const m = existing.manifest;
  if (m.target.pod !== target.pod || m.target.namespace !== target.namespace) {
    throw new SnapbackError(
      ErrorCode.ALREADY_EXISTS,
      `checkpoint ${m.checkpointId} belongs to ${m.target.namespace}/${m.target.pod}; ask to replace it or choose another id`,
    );
  }
  return {
    checkpointId: m.checkpointId,
    location: existing.dir,
    sizeBytes: m.sizeBytes,
    durationsMs: m.durations,
    node: m.node || node,
    reused: true,
    version: m.version,
    cudaPids: m.cuda?.pids ?? [],
    createdAt: m.createdAt,
  };
}

function toInfo(c: StoredCheckpoint) {
  return {
    checkpointId: c.id,
    location: c.dir,
    sizeBytes: c.manifest.sizeBytes,
    createdAt: c.manifest.createdAt,
    version: c.manifest.version,
    manifestJson: JSON.stringify(c.manifest),
  };
}

function toWorkload(w: WorkloadStatus): Workload {
  return {
    name: w.name,
    pid: w.pid,
    command: w.command,
    running: w.running,
    stdoutPath: w.stdoutPath,
    stderrPath: w.stderrPath,
    startedAt: w.startedAt,
    restoredFrom: w.restoredFrom ?? '',
  };
}
