/**
 * A lazy restore's pages, served by snapback to `criu lazy-pages` (lib/criu/page-server.ts) from the
 * checkpoint's page images, each part (a 16 MiB chunk) verified against the manifest before any page of it
 * is served. The workload runs at once; it never runs on a byte the manifest does not vouch for; a bad part
 * fails the supply at the first request that needs it (the restore then kills the tree).
 *
 * A checkpoint restored lazily on a node that does not hold it comes the same way: its page images are
 * left in the bucket, and each part is fetched (a ranged GET) when it is first needed, then verified.
 *
 * Pages CRIU restores itself (not lazily: file-backed private memory, shared memory) are read by CRIU from
 * the images directly: the parts holding them are verified `beforeResume`, while CRIU restores the tree
 * stopped. Once the daemon has every page, the parts nobody asked for are verified too, so that a finished
 * lazy restore has checked every byte as a full one does.
 */
import { constants, readSync } from 'node:fs';
import { type FileHandle, lstat, open, realpath } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { ErrorCode, SnapbackError } from '../errors.js';
import { PAGE_SIZE, type Pagemap, type PageRun, readPagemap } from '../lib/criu/images.js';
import { hex, type PageSource, servePages } from '../lib/criu/page-server.js';
import {
  type FilePart,
  type Manifest,
  type ManifestFile,
  partAt,
  partsOf,
  verifyPart,
} from '../lib/storage/index.js';
import { IMAGES_DIR, isPageImage } from './configure.js';

export interface PageSupply {
  /**
   * Brings the parts holding the pages CRIU restores itself (it reads them from the files): before CRIU
   * runs. At once for a checkpoint that is all here.
   */
  beforeRestore(): Promise<void>;
  /** Verifies those parts (while CRIU restores): the tree may run once this settles. */
  beforeResume(): Promise<void>;
  /**
   * Says the tree is about to run: from now on a bad part is never answered. Throws the first bad part found
   * so far, if any (its requests got zero pages while the tree was held stopped: it must never run).
   */
  resuming(): void;
  /**
   * Settles once the daemon has every page and every part of every page image is verified; rejects at the
   * first bad part, or when the daemon hangs up early.
   */
  readonly done: Promise<void>;
  /** Stops serving (the restore failed); `done` then rejects. */
  stop(): void;
}

/** How many parts past the one asked for are verified ahead: the daemon's background transfer is in order. */
const VERIFY_AHEAD = 2;

/** Brings a part of a page image into its file before it is verified (a checkpoint still in the bucket). */
export type FetchPart = (file: ManifestFile, part: FilePart, signal: AbortSignal) => Promise<void>;

/**
 * Serves the pages of the checkpoint at `dir` (already opened for reading, `manifest` read from it) to the
 * lazy-pages daemon at the other end of `daemon`; with `fetchPart`, each part is fetched first.
 */
export async function supplyPages(
  dir: string,
  manifest: Manifest,
  daemon: Duplex,
  fetchPart?: FetchPart,
): Promise<PageSupply> {
  const imagesDir = join(await realpath(dir), IMAGES_DIR);
  const images = new Map(
    manifest.files.filter((f) => isPageImage(f.path)).map((f) => [basename(f.path), f] as const),
  );
  const stopping = new AbortController();
  const handles = new Map<string, Promise<FileHandle>>();
  const fetched = new Map<string, Promise<void>>();
  const verified = new Map<string, Promise<void>>();
  const pagemaps = new Map<number, Promise<Pagemap>>();

  const handleOf = (file: ManifestFile) => {
    let handle = handles.get(file.path);
    if (handle === undefined) {
      handle = openChecked(imagesDir, file);
      handle.catch(() => {});
      handles.set(file.path, handle);
    }
    return handle;
  };
  const fetch = (file: ManifestFile, index: number): Promise<void> => {
    const key = `${file.path}#${index}`;
    let done = fetched.get(key);
    if (done === undefined) {
      done = handleOf(file).then(() => fetchPart?.(file, partsOf(file)[index]!, stopping.signal));
      done.catch(() => {});
      fetched.set(key, done);
    }
    return done;
  };
  const verify = (file: ManifestFile, index: number): Promise<void> => {
    const key = `${file.path}#${index}`;
    let done = verified.get(key);
    if (done === undefined) {
      done = fetch(file, index).then(() =>
        verifyPart(manifest, file, join(imagesDir, basename(file.path)), index, stopping.signal),
      );
      done.catch(() => {});
      verified.set(key, done);
    }
    return done;
  };
  const pagemapOf = (pid: number) => {
    let pagemap = pagemaps.get(pid);
    if (pagemap === undefined) {
      pagemap = readPagemap(imagesDir, pid);
      pagemap.catch(() => {});
      pagemaps.set(pid, pagemap);
    }
    return pagemap;
  };

  const source: PageSource = {
    async find(pid, vaddr, pages) {
      const pagemap = await pagemapOf(pid);
      const run = runAt(pagemap.runs, vaddr);
      const file = images.get(pagemap.pagesImage);
      if (run?.offset === undefined || file === undefined) {
        throw new SnapbackError(
          ErrorCode.INTERNAL,
          `criu lazy-pages asked for pages at ${hex(vaddr)} of process ${pid}, which its pagemap does not hold in ${pagemap.pagesImage}`,
        );
      }
      const skip = (vaddr - run.vaddr) / PAGE_SIZE;
      const count = Math.min(pages, run.pages - skip);
      const start = run.offset + skip * PAGE_SIZE;
      const end = start + count * PAGE_SIZE;
      const first = partAt(file, start);
      const last = partAt(file, end - 1);
      const parts = partsOf(file).length;
      for (let i = last + 1; i <= Math.min(last + VERIFY_AHEAD, parts - 1); i++) void verify(file, i);
      try {
        for (let i = first; i <= last; i++) await verify(file, i);
      } catch (err) {
        bad ??= SnapbackError.from(err);
        failed.reject(bad);
        // Before the tree runs, CRIU's restorer itself touches lazy memory (it registers rseq there): left
        // unanswered, it would wait for ever, and CRIU with it. It gets zero pages instead; the tree is held
        // stopped, and will be killed, never resumed (resuming throws).
        if (!resumed)
          return { pages: count, copyTo: (target, at) => void target.fill(0, at, at + end - start) };
        throw bad;
      }
      const { fd } = await handleOf(file);
      return {
        pages: count,
        copyTo(target, at) {
          const read = readSync(fd, target, at, end - start, start);
          if (read !== end - start) throw new SnapbackError(ErrorCode.INTERNAL, `${file.path} ended early`);
        },
      };
    },
  };

  let resumed = false;
  let bad: SnapbackError | undefined;
  const failed = Promise.withResolvers<never>();
  failed.promise.catch(() => {});

  const closeAll = async () => {
    for (const handle of handles.values()) await handle.then((h) => h.close()).catch(() => {});
  };
  const done = (async () => {
    try {
      await Promise.race([servePages(daemon, source), failed.promise]);
      // Every part, asked for or not: a finished lazy restore has verified all it restored from.
      for (const file of images.values()) await Promise.all(partsOf(file).map((_part, i) => verify(file, i)));
    } finally {
      stopping.abort();
      await Promise.allSettled(verified.values());
      await closeAll();
    }
  })();
  done.catch(() => {});

  let eager: ReturnType<typeof eagerParts> | undefined;
  const eagerOnce = () => {
    eager ??= eagerParts(manifest, images, pagemapOf);
    return eager;
  };
  return {
    async beforeRestore() {
      const eager = await eagerOnce();
      await Promise.race([Promise.all(eager.map(({ file, index }) => fetch(file, index))), failed.promise]);
    },
    async beforeResume() {
      const eager = await eagerOnce();
      // A part found bad meanwhile (the daemon fetches while the tree is stopped) fails this too.
      await Promise.race([Promise.all(eager.map(({ file, index }) => verify(file, index))), failed.promise]);
    },
    resuming() {
      if (bad !== undefined) throw bad;
      resumed = true;
    },
    done,
    stop() {
      daemon.destroy();
      stopping.abort();
    },
  };
}

/** The run holding `vaddr` (runs are in address order). */
function runAt(runs: readonly PageRun[], vaddr: number): PageRun | undefined {
  let low = 0;
  let high = runs.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const run = runs[mid]!;
    if (vaddr < run.vaddr) high = mid - 1;
    else if (vaddr >= run.vaddr + run.pages * PAGE_SIZE) low = mid + 1;
    else return run;
  }
  return undefined;
}

/**
 * The parts CRIU reads itself: those holding a process's non-lazy pages, and every part of a page image
 * no process's pagemap names (shared memory's).
 */
async function eagerParts(
  manifest: Manifest,
  images: ReadonlyMap<string, ManifestFile>,
  pagemapOf: (pid: number) => Promise<Pagemap>,
): Promise<{ file: ManifestFile; index: number }[]> {
  const eager = new Map<ManifestFile, Set<number>>();
  const named = new Set<string>();
  for (const { path } of manifest.files) {
    const pid = /^criu\/pagemap-(\d+)\.img$/.exec(path)?.[1];
    if (pid === undefined) continue;
    const pagemap = await pagemapOf(Number(pid));
    named.add(pagemap.pagesImage);
    const file = images.get(pagemap.pagesImage);
    if (file === undefined) continue;
    for (const run of pagemap.runs) {
      if (run.lazy || run.offset === undefined || run.pages === 0) continue;
      const indexes = eager.get(file) ?? new Set<number>();
      const last = partAt(file, run.offset + run.pages * PAGE_SIZE - 1);
      for (let i = partAt(file, run.offset); i <= last; i++) indexes.add(i);
      eager.set(file, indexes);
    }
  }
  for (const [name, file] of images) {
    if (!named.has(name)) eager.set(file, new Set(partsOf(file).map((_part, i) => i)));
  }
  return [...eager].flatMap(([file, indexes]) => [...indexes].map((index) => ({ file, index })));
}

/**
 * Opens a page image for reading: reached through no symbolic link, a regular file of the size the
 * manifest lists (its bytes are verified part by part as they are served).
 */
async function openChecked(imagesDir: string, file: ManifestFile): Promise<FileHandle> {
  const path = join(imagesDir, basename(file.path));
  const refuse = (why: string) =>
    new SnapbackError(ErrorCode.FAILED_PRECONDITION, `checkpoint is corrupted: ${file.path} ${why}`, {
      phase: 'verify',
      details: [{ field: 'files', message: `${file.path} ${why}` }],
    });
  if ((await realpath(path).catch(() => undefined)) !== path)
    throw refuse('is missing or reached through a symbolic link');
  const stat = await lstat(path);
  if (!stat.isFile()) throw refuse('is not a regular file');
  if (stat.size !== file.size) throw refuse(`has ${stat.size} bytes, manifest says ${file.size}`);
  return open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
}
