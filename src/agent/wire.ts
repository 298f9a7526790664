/** The agent's wire: requests and results between agent.proto's messages and the executor's. */
import { ErrorCode, SnapbackError } from '../errors.js';
import type { ProgressUpdate } from '../executor/phase-clock.js';
import type { RestoreOutput } from '../executor/restore.js';
import type {
  CheckpointInfo,
  CheckpointResult,
  Progress,
  RestoreResult,
  Target,
  Workload,
} from '../generated/snapback/agent/v1/agent.js';
import type { WorkloadStatus } from '../lib/process/index.js';
import type { TargetRef } from '../lib/runtime/index.js';
import type { StoredCheckpoint } from '../lib/storage/index.js';

export function toRestoreResult(r: RestoreOutput): RestoreResult {
  return {
    checkpointId: r.checkpointId,
    restoredPid: r.restoredPid,
    namespacePid: r.namespacePid ?? 0,
    durationsMs: r.durations,
    node: r.node,
    workload: r.workload,
  };
}

export function toTarget(target: Target | undefined): TargetRef {
  if (target === undefined || target.pod === '') {
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

export function targetKey(t: TargetRef): string {
  return `${t.namespace}/${t.pod}/${t.container ?? ''}`;
}

export function toProgress(u: ProgressUpdate): Progress {
  return {
    phase: u.phase,
    state: u.state,
    bytesDone: u.bytesDone ?? 0,
    bytesTotal: u.bytesTotal ?? 0,
    message: u.message ?? '',
  };
}

export function reusedResult(existing: StoredCheckpoint, target: TargetRef, node: string): CheckpointResult {
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

export function toInfo(c: StoredCheckpoint): CheckpointInfo {
  return {
    checkpointId: c.id,
    location: c.dir,
    sizeBytes: c.manifest.sizeBytes,
    createdAt: c.manifest.createdAt,
    version: c.manifest.version,
    manifestJson: JSON.stringify(c.manifest),
  };
}

export function toWorkload(w: WorkloadStatus): Workload {
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
