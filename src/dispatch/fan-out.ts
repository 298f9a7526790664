/**
 * Fan-out with bounded concurrency and a shared deadline: each call gets the time left before
 * `deadline - safetyMarginMs` as its own deadline; an item whose turn comes with too little time left is
 * not started but reported (`tooLate`), never silently dropped.
 */
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

/** Runs `work(item, deadline)` for every item, at most `concurrency` at once, results in input order. */
export async function fanOut<T, R>(
  items: readonly T[],
  options: FanOutOptions,
  work: (item: T, deadline: Date) => Promise<R>,
): Promise<FanOutResult<R>[]> {
  const now = options.now ?? Date.now;
  const deadline = callDeadlineOf(options);
  const results: FanOutResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      const leftMs = deadline.getTime() - now();
      if (leftMs < options.minimumCallMs) {
        results[index] = { ok: false, tooLate: true, leftMs };
        continue;
      }
      results[index] = { ok: true, value: await work(items[index]!, deadline) };
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}
