/** Medians of repeated runs, percentiles of latency samples, and a flag for figures too noisy to trust. */

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
  /** (max − min) / median: how far apart the runs landed. */
  spread: number;
  /** The spread passes NOISY_SPREAD: read the median with care. */
  noisy: boolean;
}

/** Runs more than 25% apart (relative to their median) are flagged. */
export const NOISY_SPREAD = 0.25;

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  // Nearest-rank: the smallest value with at least p% of the samples at or below it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export function median(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarize(samples: readonly number[]): Summary {
  const m = median(samples);
  const min = Math.min(...samples);
  const max = Math.max(...samples);
  const spread = m > 0 && samples.length > 1 ? (max - min) / m : 0;
  return { median: m, min, max, n: samples.length, spread, noisy: spread > NOISY_SPREAD };
}

/** Per-phase medians over runs that each report `{phase: ms}`. */
export function medianPhases(runs: readonly Readonly<Record<string, number>>[]): Record<string, number> {
  const phases = new Set(runs.flatMap((r) => Object.keys(r)));
  const out: Record<string, number> = {};
  for (const phase of phases) {
    out[phase] = median(runs.map((r) => r[phase]).filter((v): v is number => v !== undefined));
  }
  return out;
}
