/**
 * Hashes files while another program is still writing them, so that the manifest of a multi-GiB dump costs
 * almost nothing after the dump: CRIU writes its page images (pages-N.img) strictly front to back, so each
 * chunk (chunked-hash.ts) is hashed, from the page cache, as soon as the writer has gone past its end —
 * by the worker pool, several chunks at once. While the writer runs, one core is left to it (CRIU dumps on
 * one thread and the workload stays frozen for as long as it does); once it is done, `finish` hashes what
 * is left on every core. (Flushing those ranges early was tried: fdatasync on a file CRIU is writing slows
 * CRIU; the fsync comes after the dump, while the workload runs again.)
 *
 * Only files the writer appends to may be followed this way: `finish` re-checks each file's size, and a file
 * that shrank is left out (it will be hashed whole, afterwards).
 */
import { constants } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { CHUNK_SIZE, chunkedEntry, hashingThreads, hashRangeInPool } from './chunked-hash.js';

const POLL_MS = 25;

interface Followed {
  /** The digest of each chunk handed to the pool so far, in order. */
  digests: Promise<Buffer>[];
  /** Bytes handed to the pool (whole chunks while the file grows) and bytes hashed. */
  submitted: number;
  hashed: number;
  shrank: boolean;
}

/** A file's manifest digest: chunked (see chunked-hash.ts), so that a restore can verify it on every core. */
export interface KnownFile {
  size: number;
  sha256: string;
  chunkSize: number;
  chunks: string[];
}

export interface GrowingFilesHasher {
  /** How many bytes of each followed file have been hashed so far, by name. */
  progress(): ReadonlyMap<string, number>;
  /** Hashes what is left of every followed file and returns what is known (name → size, sha256). */
  finish(): Promise<Map<string, KnownFile>>;
  /** Stops following (the writer failed): waits for the chunks being hashed, hashes no more. */
  cancel(): Promise<void>;
}

/** Follows the files of `dir` whose names match `pattern` (not recursively) until `finish`. */
export function hashGrowingFiles(
  dir: string,
  pattern: RegExp,
  chunkSize: number = CHUNK_SIZE,
): GrowingFilesHasher {
  const followed = new Map<string, Followed>();
  // One core for the writer while it writes; all of them once it is done.
  // Cleared chunks reject (AbortError): `cancel` waits for every digest, and one never run must settle too.
  const limit = pLimit({ concurrency: Math.max(1, hashingThreads() - 1), rejectOnClear: true });
  let stopped = false;
  let failed = false;

  /** Hands `file`'s bytes up to `end` to the pool, a chunk at a time. */
  const submit = (path: string, file: Followed, end: number) => {
    while (file.submitted < end) {
      const offset = file.submitted;
      const length = Math.min(chunkSize, end - offset);
      const digest = limit(async () => {
        const d = await hashRangeInPool({ path, offset, length });
        file.hashed += length;
        return d;
      });
      digest.catch(() => {}); // awaited in finish; a failure there leaves the file out
      file.digests.push(digest);
      file.submitted += length;
    }
  };

  /** While the writer writes, whole chunks only; at the end (`last`), everything up to the final size. */
  const round = async (last: boolean) => {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (pattern.test(name) && !followed.has(name))
        followed.set(name, { digests: [], submitted: 0, hashed: 0, shrank: false });
    }
    for (const [name, file] of followed) {
      if (file.shrank) continue;
      const path = join(dir, name);
      const { size } = await stat(path);
      const end = last ? size : size - (size % chunkSize);
      if (end < file.submitted) file.shrank = true;
      else submit(path, file, end);
    }
  };

  const loop = (async () => {
    while (!stopped) {
      await round(false).catch(() => {
        failed = true;
        stopped = true;
      });
      if (!stopped) await sleep(POLL_MS);
    }
  })();

  return {
    progress: () => new Map([...followed].map(([name, file]) => [name, file.hashed])),
    async finish() {
      stopped = true;
      await loop;
      limit.concurrency = hashingThreads();
      const known = new Map<string, KnownFile>();
      if (!failed) await round(true).catch(() => (failed = true));
      for (const [name, file] of followed) {
        const digests = await Promise.all(file.digests).catch(() => undefined);
        // Re-checked after the last read: a file that changed size since is not vouched for.
        const size = (await stat(join(dir, name)).catch(() => undefined))?.size;
        if (!failed && !file.shrank && digests !== undefined && size === file.submitted)
          known.set(name, chunkedEntry(size, chunkSize, digests));
      }
      return known;
    },
    async cancel() {
      stopped = true;
      await loop;
      // After the loop: a round under way could queue more chunks.
      limit.clearQueue();
      for (const file of followed.values()) await Promise.allSettled(file.digests);
    },
  };
}

const TAIL_READ_SIZE = 1 << 20;

/**
 * A file another program is still appending to, as a stream of its bytes from the start: what is written
 * so far, then more as it comes, ending once `writerDone` has settled and the file's last byte was read.
 * `onBytes` counts what was streamed.
 */
export function tailGrowingFile(
  path: string,
  writerDone: Promise<unknown>,
  onBytes: (n: number) => void = () => {},
): Readable {
  let done = false;
  const settled = writerDone.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  async function* bytes(): AsyncGenerator<Buffer> {
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      for (let offset = 0; ; ) {
        // Read after noting whether the writer was done: an empty read then is the end of the file.
        const finished = done;
        const buffer = Buffer.allocUnsafe(TAIL_READ_SIZE);
        const { bytesRead } = await handle.read(buffer, 0, TAIL_READ_SIZE, offset);
        if (bytesRead > 0) {
          offset += bytesRead;
          onBytes(bytesRead);
          yield buffer.subarray(0, bytesRead);
        } else if (finished) {
          return;
        } else {
          await Promise.race([sleep(POLL_MS), settled]);
        }
      }
    } finally {
      await handle.close();
    }
  }
  return Readable.from(bytes(), { objectMode: false });
}
