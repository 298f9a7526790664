/**
 * Reading what a CRIU image holds without CRIU:
 * - the pids (and thread ids) of pstree.img. A restore into an existing PID namespace must keep them free,
 *   and they are the pids of the dump — not those seen at an earlier inspection (a workload forks between
 *   the two);
 * - the runs of a process's pages in pagemap-PID.img: where each lies in pages-N.img, and whether a lazy
 *   restore may bring it later (a lazy restore's pages are served by snapback, lazy-pages.ts).
 *
 * Format (https://criu.org/Images): two little-endian u32 magics, then entries, each a u32 size and a
 * protobuf message (proto/criu/*.proto, decoded by the code scripts/gen-proto.sh generates).
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { PagemapEntry, PagemapHead } from '../../generated/criu/pagemap.js';
import { PstreeEntry } from '../../generated/criu/pstree.js';

const PSTREE_MAGIC = 0x50273030;
const PAGEMAP_MAGIC = 0x56084025;

/** The page size of the images this agent reads: x86_64's and the default of arm64's kernels. */
export const PAGE_SIZE = 4096;

export async function readImagePids(imagesDir: string): Promise<number[]> {
  const path = join(imagesDir, 'pstree.img');
  const pids = new Set<number>();
  for (const bytes of entriesOf(await readImage(path), path, PSTREE_MAGIC, 'pstree')) {
    const entry = decodeEntry(PstreeEntry, bytes, path);
    pids.add(entry.pid);
    for (const tid of entry.threads) pids.add(tid);
  }
  return [...pids].sort((a, b) => a - b);
}

/** A run of a process's pages, as its pagemap lists it. */
export interface PageRun {
  /** First address (user addresses fit in 2^47 on x86_64 and arm64, well within a number). */
  vaddr: number;
  pages: number;
  /** A lazy restore may bring these after the process resumes (private anonymous memory). */
  lazy: boolean;
  /** Where the run's bytes start in the pages image; undefined when the image holds none (a parent's). */
  offset: number | undefined;
}

export interface Pagemap {
  /** The pages image (in the same folder) the runs' bytes are in, e.g. `pages-3.img`. */
  pagesImage: string;
  /** In the image's order: by address. */
  runs: PageRun[];
}

const PE_PARENT = 1 << 0;
const PE_LAZY = 1 << 1;
const PE_PRESENT = 1 << 2;

/** The pagemap of process `pid` (its pid in the dump). */
export async function readPagemap(imagesDir: string, pid: number): Promise<Pagemap> {
  const path = join(imagesDir, `pagemap-${pid}.img`);
  const [head, ...entries] = [...entriesOf(await readImage(path), path, PAGEMAP_MAGIC, 'pagemap')];
  if (head === undefined) throw malformed(`${path} has no header`);
  const { pagesId } = decodeEntry(PagemapHead, head, path);
  let offset = 0;
  const runs = entries.map((bytes): PageRun => {
    const entry = decodeEntry(PagemapEntry, bytes, path);
    // The decoder reads an absent field as 0, and 0 is no value either field takes: images older than the
    // flags field say only whether a run is in the parent; older than nr_pages, they count in compat's u32.
    const flags = entry.flags || (entry.inParent === true ? PE_PARENT : PE_PRESENT);
    const pages = entry.nrPages || entry.compatNrPages;
    const present = (flags & PE_PRESENT) !== 0;
    const run = {
      vaddr: entry.vaddr,
      pages,
      lazy: (flags & PE_LAZY) !== 0,
      offset: present ? offset : undefined,
    };
    if (present) offset += pages * PAGE_SIZE;
    return run;
  });
  return { pagesImage: `pages-${pagesId}.img`, runs };
}

async function readImage(path: string): Promise<Buffer> {
  return readFile(path).catch((err: unknown) => {
    throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, `checkpoint has no readable ${basename(path)}`, {
      cause: err,
    });
  });
}

/** The messages of an image, after its magics (the second names its kind). */
function* entriesOf(image: Buffer, path: string, magic: number, kind: string): Generator<Uint8Array> {
  if (image.length < 8 || image.readUInt32LE(4) !== magic)
    throw malformed(`${path} is not a CRIU ${kind} image`);
  let offset = 8;
  while (offset + 4 <= image.length) {
    const size = image.readUInt32LE(offset);
    offset += 4;
    if (offset + size > image.length) throw malformed(`${path} is truncated`);
    yield image.subarray(offset, offset + size);
    offset += size;
  }
}

function decodeEntry<T>(type: { decode(bytes: Uint8Array): T }, bytes: Uint8Array, path: string): T {
  try {
    return type.decode(bytes);
  } catch (err) {
    throw malformed(`${path} holds a malformed entry`, err);
  }
}

function malformed(message: string, cause?: unknown): SnapbackError {
  return new SnapbackError(ErrorCode.FAILED_PRECONDITION, message, cause === undefined ? {} : { cause });
}
