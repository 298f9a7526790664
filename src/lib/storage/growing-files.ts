/**
 * Hashes files while another program is still writing them, so that the manifest of a multi-GiB dump costs
 * almost nothing after the dump: CRIU writes its page images (pages-N.img) strictly front to back, so each
 * new range is read once, from the page cache, while CRIU goes on. (Flushing those ranges early was tried:
 * fdatasync on a file CRIU is writing slows CRIU, and the workload stays frozen for as long as CRIU runs;
 * the fsync comes after the dump, while the workload runs again.)
 *
 * Only files the writer appends to may be followed this way: `finish` re-checks each file's size, and a file
 * that shrank is left out (it will be hashed whole, afterwards).
 */
import { createHash, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CHUNK_SIZE, rootOf } from './chunked-hash.js';

const READ_SIZE = 4 << 20;
const POLL_MS = 25;

interface Followed {
  handle: FileHandle;
  /** The chunk being hashed, how much of it is in, and the digests of the chunks before it. */
  chunk: Hash;
  chunkFill: number;
  digests: Buffer[];
  offset: number;
}

/** A file's manifest digest: chunked (see chunked-hash.ts), so that a restore can verify it on every core. */
export interface KnownFile {
  size: number;
  sha256: string;
  chunkSize: number;
}

export interface GrowingFilesHasher {
  /** How far each followed file has been read (and hashed) so far, by name. */
  progress(): ReadonlyMap<string, number>;
  /** Reads to the end of every followed file, closes them, and returns what is known (name → size, sha256). */
  finish(): Promise<Map<string, KnownFile>>;
}

/** Follows the files of `dir` whose names match `pattern` (not recursively) until `finish`. */
export function hashGrowingFiles(dir: string, pattern: RegExp): GrowingFilesHasher {
  const followed = new Map<string, Followed>();
  const buffer = Buffer.allocUnsafe(READ_SIZE);
  let stopped = false;
  let failed = false;

  const catchUp = async (file: Followed) => {
    for (;;) {
      const { bytesRead } = await file.handle.read(buffer, 0, READ_SIZE, file.offset);
      if (bytesRead === 0) return;
      addToChunks(file, buffer.subarray(0, bytesRead));
      file.offset += bytesRead;
      if (bytesRead < READ_SIZE && !stopped) return; // caught up with the writer for now
    }
  };

  const round = async () => {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!pattern.test(name) || followed.has(name)) continue;
      const handle = await open(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW).catch(
        () => undefined,
      );
      if (handle)
        followed.set(name, { handle, chunk: createHash('sha256'), chunkFill: 0, digests: [], offset: 0 });
    }
    for (const file of followed.values()) await catchUp(file);
  };

  const loop = (async () => {
    while (!stopped) {
      await round().catch(() => {
        failed = true;
        stopped = true;
      });
      if (!stopped) await new Promise((r) => setTimeout(r, POLL_MS));
    }
  })();

  return {
    progress: () => new Map([...followed].map(([name, file]) => [name, file.offset])),
    async finish() {
      stopped = true;
      await loop;
      const known = new Map<string, KnownFile>();
      if (!failed) await round().catch(() => (failed = true));
      for (const [name, file] of followed) {
        const size = (await stat(join(dir, name)).catch(() => undefined))?.size;
        if (file.chunkFill > 0) file.digests.push(file.chunk.digest());
        if (!failed && size === file.offset)
          known.set(name, { size, sha256: rootOf(file.digests), chunkSize: CHUNK_SIZE });
        await file.handle.close();
      }
      return known;
    },
  };
}

function addToChunks(file: Followed, bytes: Buffer): void {
  let at = 0;
  while (at < bytes.length) {
    const take = Math.min(CHUNK_SIZE - file.chunkFill, bytes.length - at);
    file.chunk.update(bytes.subarray(at, at + take));
    file.chunkFill += take;
    at += take;
    if (file.chunkFill === CHUNK_SIZE) {
      file.digests.push(file.chunk.digest());
      file.chunk = createHash('sha256');
      file.chunkFill = 0;
    }
  }
}
