/**
 * Retention: once a checkpoint of a workload is published, its older checkpoints past the newest `keep`
 * are deleted. One being read by a restore (on any agent) or written is skipped and said so: it goes at a
 * later checkpoint of the workload.
 */
import { beyondRetention, type WorkloadIdentity } from '../lib/storage/index.js';
import type { Logger } from '../log.js';
import type { ExecutorDeps } from './deps.js';

/** How many checkpoints of a workload are kept when the request does not say. */
export const DEFAULT_KEEP = 2;

export async function applyRetention(
  deps: ExecutorDeps,
  identity: WorkloadIdentity,
  keep: number,
  log: Logger,
): Promise<string[]> {
  const manifests = (await deps.store.list()).map((c) => c.manifest);
  const removed: string[] = [];
  for (const old of beyondRetention(manifests, identity, keep)) {
    try {
      if (await deps.store.remove(old.checkpointId)) removed.push(old.checkpointId);
    } catch (err) {
      log.info({ err, checkpointId: old.checkpointId }, 'retention: kept for now (in use)');
    }
  }
  if (removed.length > 0) log.info({ removed, keep }, 'retention: older checkpoints of the workload removed');
  return removed;
}
