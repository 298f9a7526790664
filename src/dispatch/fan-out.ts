/**
 * Fan-out with bounded concurrency and a shared deadline: each call gets the time left before
 * `deadline - safetyMarginMs` as its own deadline; an item whose turn comes with too little time left is
 * not started but reported (`tooLate`), never silently dropped.
 */
import pLimit from 'p-limit';

export interface FanOutOptions {
  concurrency: number;
  /** When the work must be done (a notice's deadline); absent: `defaultBudgetMs` from now. */
  deadline?: Date;
  /** Kept free before the deadline (the node may vanish a little early; completion events must go out). */
  safetyMarginMs: number;
  /** Budget for notices without a deadline. */
  defaultBudgetMs: number;
  /** Below this much time left, an item is reported as too late rather than started. */
  minimumCallMs: number;
  now?: () => number;
}

export type FanOutResult<R> = { ok: true; value: R } | { ok: false; tooLate: true; leftMs: number };

/** The instant calls must end by: the deadline minus the margin, or the default budget from now. */
export function callDeadlineOf(options: FanOutOptions): Date {
  const now = (options.now ?? Date.now)();
  if (options.deadline === undefined) return new Date(now + options.defaultBudgetMs);
  return new Date(options.deadline.getTime() - options.safetyMarginMs);
}

/**
 * Runs `work(item, deadline)` for every item, at most `concurrency` at once (p-limit), in input order; the
 * time left is checked when an item's turn comes. Results in input order.
 */
export function fanOut<T, R>(
  items: readonly T[],
  options: FanOutOptions,
  work: (item: T, deadline: Date) => Promise<R>,
): Promise<FanOutResult<R>[]> {
  const now = options.now ?? Date.now;
  const deadline = callDeadlineOf(options);
  return pLimit(Math.max(1, options.concurrency)).map(items, async (item): Promise<FanOutResult<R>> => {
    const leftMs = deadline.getTime() - now();
    if (leftMs < options.minimumCallMs) return { ok: false, tooLate: true, leftMs };
    return { ok: true, value: await work(item, deadline) };
  });
}
