/**
 * A loop that runs a step, waits, and runs it again until its signal aborts. A failing step is logged
 * when the failure starts or changes and when it ends, not on every turn: a metadata server that is down
 * for a minute says so once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.js';
import { isStop } from './metadata-http.js';

export interface PollLoopOptions {
  intervalMs: number;
  log: Logger;
  /** What the loop does, for its log lines (`polling spot/instance-action`). */
  what: string;
}

export async function pollLoop(
  options: PollLoopOptions,
  signal: AbortSignal,
  step: () => Promise<void>,
): Promise<void> {
  let failing: string | undefined;
  while (!signal.aborted) {
    try {
      await step();
      if (failing !== undefined) options.log.info({ what: options.what }, 'metadata server answers again');
      failing = undefined;
    } catch (err) {
      if (isStop(err, signal)) return;
      const message = (err as Error).message;
      if (failing !== message)
        options.log.warn({ err, what: options.what }, 'metadata request failed; retrying');
      failing = message;
    }
    await idle(options.intervalMs, signal);
  }
}

/** Waits `ms` or until `signal` aborts, whichever comes first (never throws). */
export async function idle(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => {});
}

/** Waits until `signal` aborts. */
export async function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
}
