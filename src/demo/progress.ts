/**
 * Shows a checkpoint progressing while the functions dispatch it: the phase the agent reports (the
 * functions log each progress update at debug level) and the bytes CRIU has written into staging so far,
 * against the workload's resident memory. On a terminal one line is rewritten in place; elsewhere a line
 * is printed per phase and at most once a second while bytes move.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { bar, formatBytes } from '../format.js';

export interface ProgressView {
  phase: string | undefined;
  bytes: number;
  /** What the dump is expected to reach (the workload's resident memory). */
  expectedBytes: number;
}

export function formatProgress(view: ProgressView, tty: boolean): string {
  const phase = (view.phase ?? 'dispatch').padEnd(12);
  if (view.bytes === 0) return `${phase} …`;
  const written = `${formatBytes(view.bytes)} written`;
  if (view.expectedBytes <= 0) return `${phase} ${written}`;
  const of = `of ~${formatBytes(view.expectedBytes)} resident`;
  return tty
    ? `${phase} ${bar(view.bytes / view.expectedBytes, 24)} ${written} ${of}`
    : `${phase} ${written} ${of}`;
}

/** Bytes of every file under `dir` (staging holds a handful of image files). */
export async function bytesUnder(dir: string): Promise<number> {
  const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  const sizes = await Promise.all(
    names.map(async (name) => {
      const info = await stat(join(dir, name)).catch(() => undefined);
      return info?.isFile() ? info.size : 0;
    }),
  );
  return sizes.reduce((a, b) => a + b, 0);
}

export interface WatchOptions {
  /** The agent's staging folder (`<storage>/tmp`). */
  stagingDir: string;
  expectedBytes: number;
  /** The latest phase the agent reported. */
  phase: () => string | undefined;
  write: (text: string) => void;
  tty: boolean;
  intervalMs?: number;
}

/** Starts watching; `stop()` ends it (and clears the line on a terminal). */
export function watchCheckpoint(options: WatchOptions): { stop(): Promise<void> } {
  let last = '';
  let lastPhase: string | undefined;
  let lastPrinted = 0;
  let max = 0;
  const tick = async () => {
    // Staging empties when the checkpoint is promoted: the display keeps the most it saw.
    max = Math.max(max, await bytesUnder(options.stagingDir));
    const phase = options.phase();
    const line = formatProgress({ phase, bytes: max, expectedBytes: options.expectedBytes }, options.tty);
    if (line === last) return;
    if (options.tty) options.write(`\r\x1b[2K  ${line}`);
    else if (phase !== lastPhase || performance.now() - lastPrinted >= 1000) {
      options.write(`  ${line}\n`);
      lastPrinted = performance.now();
    } else return;
    last = line;
    lastPhase = phase;
  };
  let running = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(tick);
  }, options.intervalMs ?? 200);
  return {
    async stop() {
      clearInterval(timer);
      await running;
      if (options.tty && last !== '') options.write('\r\x1b[2K');
    },
  };
}
