/** Big files are described and verified in chunks on every core, and a flipped byte in any chunk is caught. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHUNK_SIZE, describeFiles, type Manifest, verifyFiles } from '../../../src/lib/storage/index.js';

describe('chunked manifest entries', () => {
  let dir: string;
  const big = 2 * CHUNK_SIZE + 12_345;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapback-chunked-'));
    await mkdir(join(dir, 'criu'));
    const data = Buffer.allocUnsafe(big);
    for (let i = 0; i < big; i += 4096) data.writeUInt32LE(i, i);
    await writeFile(join(dir, 'criu', 'pages-1.img'), data);
    await writeFile(join(dir, 'criu', 'small.img'), 'small');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const manifestOf = (files: Manifest['files']) => ({ checkpointId: 'c', files }) as unknown as Manifest;

  it('chunks files past the chunk size, hashes small ones whole, and verifies both', async () => {
    let bytes = 0;
    const files = await describeFiles(dir, (n) => {
      bytes += n;
    });
    assert.equal(bytes, big + 5);
    assert.deepEqual(
      files.map((f) => [f.path, f.size, f.chunkSize]),
      [
        ['criu/pages-1.img', big, CHUNK_SIZE],
        ['criu/small.img', 5, undefined],
      ],
    );
    await verifyFiles(dir, manifestOf(files));
  });

  for (const [where, offset] of [
    ['first', 10],
    ['middle', CHUNK_SIZE + 99],
    ['last, partial', 2 * CHUNK_SIZE + 7],
  ] as const) {
    it(`refuses a file whose ${where} chunk changed`, async () => {
      const files = await describeFiles(dir);
      const handle = await open(join(dir, 'criu', 'pages-1.img'), 'r+');
      const original = Buffer.alloc(1);
      await handle.read(original, 0, 1, offset);
      await handle.write(Buffer.from([original[0]! ^ 0xff]), 0, 1, offset);
      try {
        await assert.rejects(
          verifyFiles(dir, manifestOf(files)),
          /criu\/pages-1\.img has a different sha256/,
        );
      } finally {
        await handle.write(original, 0, 1, offset);
        await handle.close();
      }
    });
  }
});
