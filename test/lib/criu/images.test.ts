/**
 * pstree.img and pagemap-PID.img read without CRIU: entries encoded by hand here after the documented
 * format (https://criu.org/Images), so that the decoder is checked against the format, not against itself.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SnapbackError } from '../../../src/errors.js';
import { PAGE_SIZE, readImagePids, readPagemap } from '../../../src/lib/criu/index.js';

const COMMON_MAGIC = 0x54564319;
const PSTREE_MAGIC = 0x50273030;
const PAGEMAP_MAGIC = 0x56084025;

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

function image(entries: number[][], magic = PSTREE_MAGIC): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(COMMON_MAGIC, 0);
  header.writeUInt32LE(magic, 4);
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
    await assert.rejects(readImagePids(dir), refused(/malformed entry/));
    await assert.rejects(readImagePids(join(dir, 'none')), refused(/no readable pstree.img/));
  });
});

describe('CRIU pagemap image', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapback-pagemap-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('places each run in the pages image: present runs one after another, lazy ones marked', async () => {
    const PARENT = 1;
    const LAZY = 2;
    const PRESENT = 4;
    const head = field(1, 7);
    const entries = [
      [...field(1, 0x400000), ...field(2, 2), ...field(4, PRESENT)],
      [...field(1, 0x7f0000000000), ...field(2, 3), ...field(4, PRESENT | LAZY)],
      // In a parent checkpoint's images: no bytes here.
      [...field(1, 0x7f0000010000), ...field(2, 1), ...field(4, PARENT)],
      // Written before the flags field: present unless in_parent.
      [...field(1, 0x7f0000020000), ...field(2, 2)],
      [...field(1, 0x7f0000030000), ...field(2, 1), ...field(3, 1)],
      // nr_pages overrides compat_nr_pages.
      [...field(1, 0x7f0000040000), ...field(2, 0), ...field(4, PRESENT | LAZY), ...field(5, 5)],
    ];
    await writeFile(join(dir, 'pagemap-42.img'), image([head, ...entries], PAGEMAP_MAGIC));
    const pagemap = await readPagemap(dir, 42);
    assert.equal(pagemap.pagesImage, 'pages-7.img');
    assert.deepEqual(pagemap.runs, [
      { vaddr: 0x400000, pages: 2, lazy: false, offset: 0 },
      { vaddr: 0x7f0000000000, pages: 3, lazy: true, offset: 2 * PAGE_SIZE },
      { vaddr: 0x7f0000010000, pages: 1, lazy: false, offset: undefined },
      { vaddr: 0x7f0000020000, pages: 2, lazy: false, offset: 5 * PAGE_SIZE },
      { vaddr: 0x7f0000030000, pages: 1, lazy: false, offset: undefined },
      { vaddr: 0x7f0000040000, pages: 5, lazy: true, offset: 7 * PAGE_SIZE },
    ]);
  });

  it('refuses a pstree image read as a pagemap, and a pagemap without its header', async () => {
    await writeFile(join(dir, 'pagemap-1.img'), image([field(1, 1)]));
    await assert.rejects(readPagemap(dir, 1), /is not a CRIU pagemap image/);
    await writeFile(join(dir, 'pagemap-2.img'), image([], PAGEMAP_MAGIC));
    await assert.rejects(readPagemap(dir, 2), /has no header/);
  });
});
