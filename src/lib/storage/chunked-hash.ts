/**
 * Chunked sha256: a big file's digest is the sha256 of its chunks' sha256 digests (raw, in order), so that
 * the chunks can be hashed on every core at once — one sha256 stream runs at one core's speed, and restore
 * verification would otherwise be bound by it. The chunks are hashed by a small pool of worker threads.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** Files larger than this are hashed in chunks of this size. */
export const CHUNK_SIZE = 64 << 20;

/** The digest of a chunked file from its chunk digests. */
export function rootOf(chunkDigests: readonly Buffer[]): string {
  const root = createHash('sha256');
  for (const digest of chunkDigests) root.update(digest);
  return root.digest('hex');
}

/** Hashes `size` bytes of `path` in chunks of `chunkSize`, in parallel; returns the root digest. */
export async function hashChunked(
  path: string,
  size: number,
  chunkSize: number,
  onBytes?: (n: number) => void,
): Promise<string> {
  const ranges: { offset: number; length: number }[] = [];
  for (let offset = 0; offset < size; offset += chunkSize)
    ranges.push({ offset, length: Math.min(chunkSize, size - offset) });
  const digests = await Promise.all(
    ranges.map(async ({ offset, length }) => {
      const digest = await pool().hash(path, offset, length);
      onBytes?.(length);
      return digest;
    }),
  );
  return rootOf(digests);
}

// Plain JavaScript, evaluated in each worker: no build step and no loader involved.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync, constants } = require('node:fs');
const buffer = Buffer.allocUnsafe(4 << 20);
parentPort.on('message', ({ id, path, offset, length }) => {
  let fd;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    const hash = createHash('sha256');
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buffer, 0, Math.min(buffer.length, length - done), offset + done);
      if (n === 0) throw new Error(path + ' ended ' + (length - done) + ' bytes early');
      hash.update(buffer.subarray(0, n));
      done += n;
    }
    parentPort.postMessage({ id, digest: hash.digest() });
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message || err) });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
});
`;

interface Pool {
  hash(path: string, offset: number, length: number): Promise<Buffer>;
}

let shared: Pool | undefined;

/** One pool per process, as wide as the machine; idle workers do not keep the process alive. */
function pool(): Pool {
  if (shared) return shared;
  type Job = { id: number; path: string; offset: number; length: number };
  const pending = new Map<number, { resolve: (d: Buffer) => void; reject: (e: Error) => void }>();
  const queue: Job[] = [];
  const idle: Worker[] = [];
  const busy = new Map<Worker, number>();
  let alive = 0;
  let nextId = 0;
  const fail = (id: number | undefined, error: Error) => {
    if (id === undefined) return;
    pending.get(id)?.reject(error);
    pending.delete(id);
  };
  const dispatch = () => {
    while (idle.length > 0 && queue.length > 0) {
      const worker = idle.pop()!;
      const job = queue.shift()!;
      busy.set(worker, job.id);
      worker.ref(); // a hash in flight keeps the process alive
      worker.postMessage(job);
    }
    if (alive === 0) for (const job of queue.splice(0)) fail(job.id, new Error('no hashing worker is left'));
  };
  for (let i = 0; i < Math.max(1, availableParallelism()); i++) {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    alive++;
    idle.push(worker);
    worker.on('message', (m: { id: number; digest?: Uint8Array; error?: string }) => {
      busy.delete(worker);
      worker.unref();
      idle.push(worker);
      if (m.error !== undefined || m.digest === undefined) fail(m.id, new Error(m.error ?? 'no digest'));
      else {
        pending.get(m.id)?.resolve(Buffer.from(m.digest));
        pending.delete(m.id);
      }
      dispatch();
    });
    // A worker that dies fails its job, and leaves the others to carry on.
    worker.once('error', (err) => {
      alive--;
      fail(busy.get(worker), err);
      busy.delete(worker);
      dispatch();
    });
    // After the listeners: adding a 'message' listener refs the worker's port again.
    worker.unref();
  }
  shared = {
    hash(path, offset, length) {
      return new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        queue.push({ id, path, offset, length });
        dispatch();
      });
    },
  };
  return shared;
}
