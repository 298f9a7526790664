/** One line per completion event, as the demo's sink prints them on arrival. */
import type { CloudEvent } from 'cloudevents';
import {
  type CheckpointOutcomeData,
  type Durations,
  EventType,
  type PreemptionHandledData,
  type RestoreOutcomeData,
} from '../events/types.js';
import { formatBytes, formatMs } from '../format.js';

/** `inspect 4 ms · criuDump 1.21 s · …` without the total. */
export function formatPhases(durations: Durations | undefined): string {
  return Object.entries(durations ?? {})
    .filter(([phase]) => phase !== 'total')
    .map(([phase, ms]) => `${phase} ${formatMs(ms)}`)
    .join(' · ');
}

export function formatEventLine(event: CloudEvent<unknown>): string {
  const head = `← ${event.type}`;
  switch (event.type) {
    case EventType.CHECKPOINT_COMPLETED: {
      const d = event.data as CheckpointOutcomeData;
      return `${head}  ${event.subject}: ${formatBytes(d.sizeBytes ?? 0)} in ${formatMs(d.durations['total'] ?? 0)} (${formatPhases(d.durations)})`;
    }
    case EventType.RESTORE_COMPLETED: {
      const d = event.data as RestoreOutcomeData;
      return `${head}  ${event.subject}: pid ${d.restoredPid} in ${formatMs(d.durations['total'] ?? 0)} (${formatPhases(d.durations)})`;
    }
    case EventType.RESTORE_PAGES_COMPLETE: {
      const d = event.data as RestoreOutcomeData;
      return `${head}  ${event.subject}: every page in after ${formatMs(d.durations['total'] ?? 0)}`;
    }
    case EventType.CHECKPOINT_FAILED:
    case EventType.RESTORE_FAILED: {
      const d = event.data as CheckpointOutcomeData | RestoreOutcomeData;
      return `${head}  ${event.subject}: ${d.error?.code} in ${d.error?.phase}: ${d.error?.message}`;
    }
    case EventType.PREEMPTION_HANDLED: {
      const d = event.data as PreemptionHandledData;
      const count = (outcome: string) => d.pods.filter((p) => p.outcome === outcome).length;
      const error = d.error ? ` (${d.error.code}: ${d.error.message})` : '';
      return `${head}  ${d.node}: ${count('checkpointed')} checkpointed, ${count('failed')} failed, ${count('skipped')} skipped${error}`;
    }
    default:
      return `${head}  ${event.subject ?? ''}`;
  }
}
