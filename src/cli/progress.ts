/**
 * Progress on a terminal: one line on stderr, rewritten in place, with a bar while bytes move.
 * Off the terminal (pipes, CI, --json) nothing is drawn.
 */
import type { Progress } from '../agent/client.js';
import { bar, formatBytes } from '../format.js';

const WIDTH = 24;

export function createProgressPrinter(stream: NodeJS.WritableStream & { isTTY?: boolean }, enabled: boolean) {
  const draw = enabled && stream.isTTY === true;
  let last = '';
  return {
    update(progress: Progress): void {
      if (!draw) return;
      const done = Number(progress.bytesDone);
      const total = Number(progress.bytesTotal);
      let line = `${progress.phase.padEnd(14)} ${progress.state.toLowerCase()}`;
      if (progress.state === 'RUNNING' && total > 0) {
        line = `${progress.phase.padEnd(14)} ${bar(done / total, WIDTH)} ${formatBytes(done)} / ~${formatBytes(total)}`;
      } else if (progress.state === 'RUNNING' && done > 0) {
        line = `${progress.phase.padEnd(14)} ${formatBytes(done)}`;
      }
      if (line === last) return;
      last = line;
      stream.write(`\r\x1b[2K${line}`);
    },
    done(): void {
      if (draw && last !== '') stream.write('\r\x1b[2K');
    },
  };
}
