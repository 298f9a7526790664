/**
 * Whether the preemption function's answer to a notice says the node's checkpoints are done — the one
 * condition for approving an Azure Scheduled Event early. The function answers only after its fan-out has
 * finished: 202 (its completion events went to its own sink), 204 (nothing to do), or 200 with the events
 * (binary mode for one, a batch for several). With events, every `io.snapback.preemption.handled` must be
 * free of errors and every pod in it checkpointed; otherwise Azure is left to start at NotBefore, the
 * time the node would have had anyway.
 */
import { EventType, PodOutcome, type PreemptionHandledData } from '../events/types.js';
import type { Delivered } from './deliver.js';

export interface Verdict {
  done: boolean;
  why: string;
}

function handledOf(reply: Delivered): PreemptionHandledData[] {
  const type = reply.headers.get('content-type') ?? '';
  if (type.startsWith('application/cloudevents-batch+json')) {
    const events = JSON.parse(reply.body) as Array<{ type?: string; data?: unknown }>;
    return events
      .filter((e) => e.type === EventType.PREEMPTION_HANDLED)
      .map((e) => e.data as PreemptionHandledData);
  }
  if (reply.headers.get('ce-type') === EventType.PREEMPTION_HANDLED) {
    return [JSON.parse(reply.body) as PreemptionHandledData];
  }
  return [];
}

export function checkpointsDone(reply: Delivered): Verdict {
  if (reply.status === 202) return { done: true, why: 'the function answered after its checkpoints (202)' };
  if (reply.status === 204) return { done: true, why: 'the function had nothing to checkpoint (204)' };
  let handled: PreemptionHandledData[];
  try {
    handled = handledOf(reply);
  } catch {
    return { done: false, why: 'the answer is not the events the preemption function sends' };
  }
  if (handled.length === 0)
    return { done: false, why: 'the answer holds no io.snapback.preemption.handled event' };
  for (const h of handled) {
    if (h.error !== undefined)
      return { done: false, why: `node ${h.node}: ${h.error.code} ${h.error.message}` };
    const left = h.pods.filter((p) => p.outcome !== PodOutcome.CHECKPOINTED);
    if (left.length > 0) {
      return { done: false, why: `${left.map((p) => `${p.namespace}/${p.pod} ${p.outcome}`).join(', ')}` };
    }
  }
  return { done: true, why: `${handled.reduce((n, h) => n + h.pods.length, 0)} pod(s) checkpointed` };
}
