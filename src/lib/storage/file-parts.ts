/**
 * The parts of a checkpoint's file that can be verified alone: each chunk, where the manifest lists the
 * chunks' digests; else the whole file (small files, and big ones of manifests older than chunk digests).
 * A lazy restore serves a part's pages only once the part is verified, so that the workload never runs on
 * a byte the manifest does not vouch for, and need not wait for the whole file.
 */
import { ErrorCode, SnapbackError } from '../../errors.js';
import { chunkRanges, hashChunks, hashRangeInPool, rootOf } from './chunked-hash.js';
import type { Manifest, ManifestFile } from './manifest.js';

export interface FilePart {
  offset: number;
  length: number;
}

export function partsOf(file: ManifestFile): FilePart[] {
  if (file.chunkSize !== undefined && file.chunks !== undefined)
    return chunkRanges(file.size, file.chunkSize);
  return [{ offset: 0, length: file.size }];
}

/** The index of the part of `file` that holds byte `offset`. */
export function partAt(file: ManifestFile, offset: number): number {
  return file.chunkSize !== undefined && file.chunks !== undefined ? Math.floor(offset / file.chunkSize) : 0;
}

/**
 * Verifies part `index` of `file`, found at `path` (read without following a final symlink; the caller
 * checked the rest of the path and the size). FAILED_PRECONDITION, in phase `verify`, naming the file and
 * its bytes, when they differ from the manifest.
 */
export async function verifyPart(
  manifest: Manifest,
  file: ManifestFile,
  path: string,
  index: number,
  signal?: AbortSignal,
): Promise<void> {
  const part = partsOf(file)[index];
  if (part === undefined) throw new RangeError(`${file.path} has no part ${index}`);
  let matches: boolean;
  if (file.chunks !== undefined) {
    const digest = await hashRangeInPool({ path, ...part }, signal);
    matches = digest.toString('hex') === file.chunks[index];
  } else if (file.chunkSize !== undefined) {
    matches = rootOf(await hashChunks(path, file.size, file.chunkSize, { signal })) === file.sha256;
  } else {
    matches = (await hashRangeInPool({ path, ...part }, signal)).toString('hex') === file.sha256;
  }
  if (!matches) {
    const which = `bytes ${part.offset}–${part.offset + part.length}`;
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `checkpoint ${manifest.checkpointId} is corrupted: ${file.path} (${which}) has a different sha256 than the manifest`,
      { phase: 'verify', details: [{ field: 'files', message: `${file.path} ${which} differ` }] },
    );
  }
}
