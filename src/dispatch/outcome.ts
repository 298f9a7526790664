/** What the functions report of a dispatched call: its error and its durations, as completion-event data. */
import { publicMessage, SnapbackError } from '../errors.js';
import type { Durations, ErrorData } from '../events/types.js';

/** `{code, phase, message}` for a completion event; internal errors say nothing internal. */
export function errorDataOf(err: unknown, defaultPhase: string): ErrorData {
  const error = SnapbackError.from(err);
  return { code: error.code, phase: error.phase ?? defaultPhase, message: publicMessage(error) };
}

/** The agent's phases, plus `dispatch` (everything that is not the agent's) and the end-to-end `total`. */
export function durationsOf(
  agentMs: Readonly<Record<string, number>> | undefined,
  totalMs: number,
): Durations {
  const { total: agentTotal, ...phases } = agentMs ?? {};
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  const durations: Durations = {};
  for (const [phase, ms] of Object.entries(phases)) durations[phase] = round(ms);
  durations['dispatch'] = round(Math.max(0, totalMs - (agentTotal ?? 0)));
  durations['total'] = round(totalMs);
  return durations;
}
