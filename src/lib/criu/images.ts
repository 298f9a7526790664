/**
 * Reading what a CRIU image holds without CRIU: the pids (and thread ids) of pstree.img. A restore into an
 * existing PID namespace must keep them free, and they are the pids of the dump — not those seen at an
 * earlier inspection (a workload forks between the two).
 *
 * Format (https://criu.org/Images): two little-endian u32 magics, then entries, each a u32 size and a
 * protobuf `PstreeEntry` (proto/criu/pstree.proto, decoded by the code scripts/gen-proto.sh generates).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { PstreeEntry } from '../../generated/criu/pstree.js';

const PSTREE_MAGIC = 0x50273030;

export async function readImagePids(imagesDir: string): Promise<number[]> {
  const path = join(imagesDir, 'pstree.img');
  const image = await readFile(path).catch((err: unknown) => {
    throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, `checkpoint has no readable pstree.img`, {
      cause: err,
    });
  });
  if (image.length < 8 || image.readUInt32LE(4) !== PSTREE_MAGIC) {
    throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, `${path} is not a CRIU pstree image`);
  }
  const pids = new Set<number>();
  let offset = 8;
  while (offset + 4 <= image.length) {
    const size = image.readUInt32LE(offset);
    offset += 4;
    if (offset + size > image.length)
      throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, `${path} is truncated`);
    const entry = decodeEntry(image.subarray(offset, offset + size), path);
    pids.add(entry.pid);
    for (const tid of entry.threads) pids.add(tid);
    offset += size;
  }
  return [...pids].sort((a, b) => a - b);
}

function decodeEntry(bytes: Uint8Array, path: string): PstreeEntry {
  try {
    return PstreeEntry.decode(bytes);
  } catch (err) {
    throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, `${path} holds a malformed process entry`, {
      cause: err,
    });
  }
}
