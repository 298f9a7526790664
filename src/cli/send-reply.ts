/**
 * What a function's answer to `snapback send` means: whether the operation it reports succeeded (its exit
 * status) and a line per event for a person. A `*.failed` event or a preemption summary with a failure is
 * an answer of 200 to an operation that did not succeed, so the status comes from the events themselves.
 */
import { type ErrorCode, exitCodeOf } from '../errors.js';
import { EventType } from '../events/types.js';
import { formatBytes, formatMs } from '../format.js';

/** An event of the reply, as the CloudEvents SDK or the batch's JSON gives it. */
interface ReplyEvent {
  type: string;
  data?: unknown;
}

interface ErrorData {
  code?: string;
  phase?: string;
  message?: string;
}

interface OutcomeData {
  checkpointId?: string;
  namespace?: string;
  pod?: string;
  node?: string;
  sizeBytes?: number;
  reused?: boolean;
  restoredPid?: number;
  durations?: Record<string, number>;
  error?: ErrorData;
}

interface HandledData {
  node?: string;
  error?: ErrorData;
  pods?: {
    namespace?: string;
    pod?: string;
    checkpointId?: string;
    outcome?: string;
    reason?: string;
    error?: ErrorData;
  }[];
}

export interface SendVerdict {
  /** 0 when everything the reply reports succeeded; else the exit status of the first failure's code. */
  exit: number;
  /** For a person: one line per event (and per pod of a preemption), failures first said as such. */
  lines: string[];
}

/** The verdict on a 2xx reply: `reply` is the event, the batch of events, or null (204: nothing asked). */
export function judgeReply(reply: unknown): SendVerdict {
  if (reply === null || reply === undefined)
    return { exit: 0, lines: ['nothing to do: the function took the event and asked for nothing'] };
  const events = (Array.isArray(reply) ? reply : [reply]).filter(isEvent);
  const verdict: SendVerdict = { exit: 0, lines: [] };
  const fail = (error: ErrorData | undefined) => {
    if (verdict.exit === 0) verdict.exit = exitCodeOf[error?.code as ErrorCode] ?? exitCodeOf.INTERNAL;
  };
  for (const event of events) {
    const data = (event.data ?? {}) as OutcomeData & HandledData;
    const target = `${data.namespace ?? '?'}/${data.pod ?? '?'}`;
    const total = data.durations?.['total'];
    const took = total === undefined ? '' : ` in ${formatMs(total)}`;
    switch (event.type) {
      case EventType.CHECKPOINT_COMPLETED:
        verdict.lines.push(
          `checkpointed ${target} as ${data.checkpointId} on ${data.node}: ${formatBytes(data.sizeBytes ?? 0)}${took}${data.reused ? ' (an existing checkpoint, reused)' : ''}`,
        );
        break;
      case EventType.RESTORE_COMPLETED:
        verdict.lines.push(
          `restored ${data.checkpointId} as ${target} on ${data.node} (pid ${data.restoredPid})${took}`,
        );
        break;
      case EventType.RESTORE_PAGES_COMPLETE:
        verdict.lines.push(`every page of ${data.checkpointId} arrived in ${target}${took}`);
        break;
      case EventType.CHECKPOINT_FAILED:
      case EventType.RESTORE_FAILED:
        fail(data.error);
        verdict.lines.push(
          `${event.type === EventType.CHECKPOINT_FAILED ? 'checkpoint' : 'restore'} of ${target} failed: ${describe(data.error)}`,
        );
        break;
      case EventType.PREEMPTION_HANDLED:
        verdict.lines.push(...preemptionLines(data, fail));
        break;
      default:
        verdict.lines.push(`${event.type}: ${JSON.stringify(event.data)}`);
    }
  }
  return verdict;
}

function preemptionLines(data: HandledData, fail: (error: ErrorData | undefined) => void): string[] {
  if (data.error !== undefined) {
    fail(data.error);
    return [`preemption of node ${data.node ?? '?'} not handled: ${describe(data.error)}`];
  }
  const pods = data.pods ?? [];
  const count = (outcome: string) => pods.filter((p) => p.outcome === outcome).length;
  const lines = [
    `preemption of node ${data.node}: ${count('checkpointed')} checkpointed, ${count('failed')} failed, ${count('skipped')} skipped`,
  ];
  for (const pod of pods) {
    if (pod.outcome === 'failed') fail(pod.error);
    const why = pod.outcome === 'failed' ? `: ${describe(pod.error)}` : pod.reason ? ` (${pod.reason})` : '';
    lines.push(`  ${pod.namespace}/${pod.pod}  ${pod.outcome}  ${pod.checkpointId}${why}`);
  }
  return lines;
}

function describe(error: ErrorData | undefined): string {
  if (error === undefined) return 'no error given';
  return `${error.code}${error.phase ? ` in ${error.phase}` : ''}: ${error.message}`;
}

function isEvent(value: unknown): value is ReplyEvent {
  return typeof value === 'object' && value !== null && typeof (value as ReplyEvent).type === 'string';
}
