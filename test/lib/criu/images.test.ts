/**
 * pstree.img read without CRIU: entries encoded by hand here after the documented format
 * (https://criu.org/Images), so that the decoder is checked against the format, not against itself.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SnapbackError } from '../../../src/errors.js';
import { readImagePids } from '../../../src/lib/criu/index.js';

const MAGICS = [0x54564319, 0x50273030];

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n & 0x7f) | 0x80);
  return [...out, n];
}
const field = (number: number, value: number) => [...varint(number * 8), ...varint(value)];
/** Repeated field 5 packed (wire type 2), as a proto3 writer would put it. */
const packed = (values: number[]) => {
  const body = values.flatMap(varint);
  return [...varint(5 * 8 + 2), ...varint(body.length), ...body];
};

function image(entries: number[][]): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(MAGICS[0]!, 0);
  header.writeUInt32LE(MAGICS[1]!, 4);
  const parts = entries.map((entry) => {
    const size = Buffer.alloc(4);
    size.writeUInt32LE(entry.length, 0);
    return Buffer.concat([size, Buffer.from(entry)]);
  });
  return Buffer.concat([header, ...parts]);
}

describe('CRIU pstree image', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapback-pstree-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads every pid and thread id, threads unpacked or packed, sorted and without repeats', async () => {
    const root = [
      ...field(1, 1),
      ...field(2, 0),
      ...field(3, 1),
      ...field(4, 1),
      ...field(5, 1),
      ...field(5, 7),
    ];
    const child = [
      ...field(1, 300),
      ...field(2, 1),
      ...field(3, 1),
      ...field(4, 1),
      ...packed([300, 301, 70000]),
    ];
    await writeFile(join(dir, 'pstree.img'), image([root, child]));
    assert.deepEqual(await readImagePids(dir), [1, 7, 300, 301, 70000]);
  });

  it('refuses a file that is not a pstree image, a truncated one, and a malformed entry', async () => {
    const refused = (message: RegExp) => (err: unknown) =>
      err instanceof SnapbackError && err.code === 'FAILED_PRECONDITION' && message.test(err.message);
    await writeFile(join(dir, 'pstree.img'), Buffer.from('not an image'));
    await assert.rejects(readImagePids(dir), refused(/is not a CRIU pstree image/));
    const whole = image([[...field(1, 5)]]);
    await writeFile(join(dir, 'pstree.img'), whole.subarray(0, whole.length - 1));
    await assert.rejects(readImagePids(dir), refused(/is truncated/));
    await writeFile(join(dir, 'pstree.img'), image([[0x08, 0xff, 0xff]]));
    await assert.rejects(readImagePids(dir), refused(/malformed process entry/));
    await assert.rejects(readImagePids(join(dir, 'none')), refused(/no readable pstree.img/));
  });
});
