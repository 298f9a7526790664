/**
 * Times each phase of a workflow and reports it as progress. Durations are milliseconds, rounded to
 * a tenth, keyed by the phase names of docs/architecture.md, "Events" (inspect, criuDump, …) plus `total`.
 */
import { SnapbackError } from '../errors.js';

export interface ProgressUpdate {
  phase: string;
  state: 'STARTED' | 'FINISHED' | 'RUNNING';
  bytesDone?: number;
  bytesTotal?: number;
  message?: string;
}

export type ProgressListener = (update: ProgressUpdate) => void;

export interface PhaseClock {
  run<T>(phase: string, work: () => Promise<T>): Promise<T>;
  /** Records a duration measured elsewhere (e.g. by a runtime). */
  record(phase: string, ms: number): void;
  progress(update: ProgressUpdate): void;
  durations(): Record<string, number>;
}

export function createPhaseClock(onProgress: ProgressListener = () => {}): PhaseClock {
  const started = performance.now();
  const durations: Record<string, number> = {};
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return {
    async run(phase, work) {
      onProgress({ phase, state: 'STARTED' });
      const t0 = performance.now();
      try {
        return await work();
      } catch (err) {
        throw SnapbackError.from(err).inPhase(phase);
      } finally {
        durations[phase] = round((durations[phase] ?? 0) + performance.now() - t0);
        onProgress({ phase, state: 'FINISHED' });
      }
    },
    record(phase, ms) {
      durations[phase] = round((durations[phase] ?? 0) + ms);
    },
    progress: onProgress,
    durations() {
      return { ...durations, total: round(performance.now() - started) };
    },
  };
}

/** Throws the abort reason (as a SnapbackError) when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw SnapbackError.from(signal.reason);
}
