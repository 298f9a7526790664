/**
 * Reading what a CRIU image holds without CRIU: the pids (and thread ids) of pstree.img. A restore into an
 * existing PID namespace must keep them free, and they are the pids of the dump — not those seen at an
 * earlier inspection (a workload forks between the two).
 *
 * Format (https://criu.org/Images): two little-endian u32 magics, then entries, each a u32 size and a
 * protobuf `PstreeEntry` { pid = 1; ppid = 2; pgid = 3; sid = 4; repeated threads = 5 } (proto2, unpacked).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, SnapbackError } from '../../errors.js';

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
    for (const [field, value] of protobufVarints(image.subarray(offset, offset + size))) {
      if (field === 1 || field === 5) pids.add(value);
    }
    offset += size;
  }
  return [...pids].sort((a, b) => a - b);
}

/** The varint fields of a protobuf message, as [field number, value]; packed repeated fields unpacked. */
function* protobufVarints(message: Buffer): Generator<[number, number]> {
  let at = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; at < message.length && shift < 35; shift += 7) {
      const byte = message[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, 'malformed varint in a CRIU image');
  };
  while (at < message.length) {
    const key = varint();
    const [field, wire] = [Math.floor(key / 8), key % 8];
    if (wire === 0) yield [field, varint()];
    else if (wire === 2) {
      const end = at + varint();
      while (at < end) yield [field, varint()];
    } else if (wire === 5) at += 4;
    else if (wire === 1) at += 8;
    else
      throw new SnapbackError(
        ErrorCode.FAILED_PRECONDITION,
        `unexpected protobuf wire type ${wire} in a CRIU image`,
      );
  }
}
