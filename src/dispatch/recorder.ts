/**
 * Kubernetes Events on the target pod (`Checkpointed`, `CheckpointFailed`, `Restored`, `RestoreFailed`,
 * `StartedCold`), so `kubectl describe pod` shows what happened. Recording is best effort: a failure is
 * logged, never thrown.
 */
import type { CoreV1Api, CoreV1Event } from '@kubernetes/client-node';
import type { Logger } from '../log.js';

export const EventReason = {
  CHECKPOINTED: 'Checkpointed',
  CHECKPOINT_FAILED: 'CheckpointFailed',
  RESTORED: 'Restored',
  RESTORE_FAILED: 'RestoreFailed',
  /** A replacement pod with nothing to restore runs its own command (the restore loop). */
  STARTED_COLD: 'StartedCold',
} as const;
export type EventReason = (typeof EventReason)[keyof typeof EventReason];

export interface RecordTarget {
  namespace: string;
  pod: string;
  container: string;
  podUid?: string;
}

export interface EventRecorder {
  record(target: RecordTarget, reason: EventReason, message: string): Promise<void>;
}

export const noopRecorder: EventRecorder = { record: async () => {} };

const warnings: ReadonlySet<string> = new Set([EventReason.CHECKPOINT_FAILED, EventReason.RESTORE_FAILED]);

export function createKubeRecorder(
  api: CoreV1Api,
  log: Logger,
  instance = 'snapback-function',
): EventRecorder {
  return {
    async record(target, reason, message) {
      const now = new Date();
      const body: CoreV1Event = {
        metadata: { generateName: `${target.pod}.`, namespace: target.namespace },
        involvedObject: {
          apiVersion: 'v1',
          kind: 'Pod',
          namespace: target.namespace,
          name: target.pod,
          ...(target.podUid ? { uid: target.podUid } : {}),
          ...(target.container ? { fieldPath: `spec.containers{${target.container}}` } : {}),
        },
        reason,
        message: message.slice(0, 1024),
        type: warnings.has(reason) ? 'Warning' : 'Normal',
        source: { component: 'snapback' },
        reportingComponent: 'snapback.io/function',
        reportingInstance: instance,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      };
      try {
        await api.createNamespacedEvent({ namespace: target.namespace, body });
      } catch (err) {
        log.warn(
          { err, reason, pod: `${target.namespace}/${target.pod}` },
          'could not record Kubernetes event',
        );
      }
    },
  };
}
