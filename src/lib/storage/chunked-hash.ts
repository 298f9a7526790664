/**
 * Chunked sha256: a big file's digest is the sha256 of its chunks' sha256 digests (raw, in order), so that
 * the chunks can be hashed on every core at once — one sha256 stream runs at one core's speed, and restore
 * verification would otherwise be bound by it. The chunks are hashed by a pool of worker threads (piscina).
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import { Piscina } from 'piscina';
import type { HashRange } from './hash-range.worker.js';

/** Files larger than this are hashed in chunks of this size. */
export const CHUNK_SIZE = 16 << 20;

/** The digest of a chunked file from its chunk digests. */
export function rootOf(chunkDigests: readonly Buffer[]): string {
  const root = createHash('sha256');
  for (const digest of chunkDigests) root.update(digest);
  return root.digest('hex');
}

/** The chunks of a file of `size` bytes: none for an empty one (its root is the sha256 of nothing). */
export function chunkRanges(size: number, chunkSize: number): { offset: number; length: number }[] {
  const ranges: { offset: number; length: number }[] = [];
  for (let offset = 0; offset < size; offset += chunkSize)
    ranges.push({ offset, length: Math.min(chunkSize, size - offset) });
  return ranges;
}

/** A chunked file's manifest entry (less its path) from its chunk digests. */
export function chunkedEntry(
  size: number,
  chunkSize: number,
  digests: readonly Buffer[],
): { size: number; sha256: string; chunkSize: number; chunks: string[] } {
  return { size, sha256: rootOf(digests), chunkSize, chunks: digests.map((d) => d.toString('hex')) };
}

export interface HashChunksOptions {
  onBytes?: ((n: number) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** Chunks hashed at once (default: the pool's width): fewer leaves cores to a tool reading beside. */
  threads?: number | undefined;
}

/** Hashes `size` bytes of `path` in chunks of `chunkSize`, in parallel; returns each chunk's digest. */
export async function hashChunks(
  path: string,
  size: number,
  chunkSize: number,
  { onBytes, signal, threads = hashingThreads() }: HashChunksOptions = {},
): Promise<Buffer[]> {
  const limit = pLimit(Math.max(1, threads));
  return Promise.all(
    chunkRanges(size, chunkSize).map((range) =>
      limit(async () => {
        const digest = await hashRangeInPool({ path, ...range }, signal);
        onBytes?.(range.length);
        return digest;
      }),
    ),
  );
}

/** The sha256 digest of one range of a file, computed by the shared worker pool (not begun once aborted). */
export async function hashRangeInPool(range: HashRange, signal?: AbortSignal): Promise<Buffer> {
  return Buffer.from(await pool().run(range, signal === undefined ? {} : { signal }));
}

/**
 * Starts the pool's workers now (an agent does at start): a worker thread takes a while to load, and the
 * first checkpoint would otherwise wait for them between its dump and its publication.
 */
export function startHashingPool(): void {
  pool();
}

/** How many ranges the pool hashes at once: one per core. */
export function hashingThreads(): number {
  return Math.max(1, availableParallelism());
}

let shared: Piscina<HashRange, Uint8Array> | undefined;

/**
 * One pool per process, as wide as the machine and kept warm (restore verification is timed); idle workers
 * do not keep the process alive. The worker is hash-range.worker.ts, compiled or — running from source
 * under tsx — as it is.
 */
function pool(): Piscina<HashRange, Uint8Array> {
  const threads = hashingThreads();
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  shared ??= new Piscina({
    filename: fileURLToPath(new URL(`./hash-range.worker.${extension}`, import.meta.url)),
    minThreads: threads,
    maxThreads: threads,
  });
  return shared;
}
