/**
 * One range of a file, hashed: the task chunked-hash.ts gives its worker threads (piscina). Reads with
 * O_NOFOLLOW, so that a symlink swapped in is never followed out of the checkpoint.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, openSync, readSync } from 'node:fs';

export interface HashRange {
  path: string;
  offset: number;
  length: number;
}

const buffer = Buffer.allocUnsafe(4 << 20);

/** The sha256 digest of `length` bytes of `path` from `offset`. */
export default function hashRange({ path, offset, length }: HashRange): Uint8Array {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const hash = createHash('sha256');
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buffer, 0, Math.min(buffer.length, length - done), offset + done);
      if (n === 0) throw new Error(`${path} ended ${length - done} bytes early`);
      hash.update(buffer.subarray(0, n));
      done += n;
    }
    return hash.digest();
  } finally {
    closeSync(fd);
  }
}
