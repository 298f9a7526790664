/**
 * What the executor has left in a state that must not outlive it: CUDA processes suspended for a dump, a
 * workload quiesced by its pre-checkpoint hook and not yet woken, a tree restored but not yet confirmed. Each entry is written durably before the state begins and removed
 * once it is over, so an agent that died in between finds — and undoes — exactly what it left behind.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Hook } from '../lib/hooks/index.js';
import { writeFileDurably } from '../lib/storage/index.js';

export type JournalEntry =
  | { kind: 'cuda-suspended'; checkpointId: string; pids: number[]; at: string }
  | {
      kind: 'quiesced';
      checkpointId: string;
      /** The workload's root and its start time, as for `restoring` … */
      pid: number;
      startTime: number | undefined;
      /** … and its post-restore hook, which wakes it. */
      wake: Hook;
      at: string;
    }
  | {
      kind: 'restoring';
      checkpointId: string;
      /**
       * Host pid of the restored root, its start time (so that a reused pid is never mistaken for it) …
       * 0 while CRIU runs: `pidFile` then has the pid once CRIU wrote it.
       */
      pid: number;
      startTime: number | undefined;
      pidFile?: string;
      /** … and the runtime's name for what was restored (workload or placeholder container). */
      workload: string;
      at: string;
    };

export interface Journal {
  /** Records an entry; returns the function that removes it. */
  open(entry: JournalEntry): Promise<() => Promise<void>>;
  /** Every entry left by an earlier run (read at start, before any new operation). */
  leftovers(): Promise<{ entry: JournalEntry; remove: () => Promise<void> }[]>;
}

export function createJournal(dir: string): Journal {
  const removeFn = (path: string) => () => rm(path, { force: true });
  return {
    async open(entry) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const path = join(dir, `${randomUUID()}.json`);
      await writeFileDurably(path, JSON.stringify(entry));
      return removeFn(path);
    },
    async leftovers() {
      const names = await readdir(dir).catch(() => [] as string[]);
      const out: { entry: JournalEntry; remove: () => Promise<void> }[] = [];
      for (const name of names) {
        const path = join(dir, name);
        if (!name.endsWith('.json')) {
          await rm(path, { force: true }); // a write that never finished
          continue;
        }
        const entry = JSON.parse(await readFile(path, 'utf8')) as JournalEntry;
        out.push({ entry, remove: removeFn(path) });
      }
      return out;
    },
  };
}
