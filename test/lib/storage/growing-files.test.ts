/** Hashing files while they are written: the same digests as hashing them after, and no trust in a shrunk file. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHUNK_SIZE, hashChunked, hashGrowingFiles } from '../../../src/lib/storage/index.js';
import { waitFor } from '../../helpers/proc.js';

describe('hashGrowingFiles', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapback-growing-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('hashes appended files as the parallel chunked hash of the finished file does, and ignores other names', async () => {
    const hasher = hashGrowingFiles(dir, /^pages-\d+\.img$/);
    let written = 0;
    for (let i = 0; i < 20; i++) {
      const chunk = Buffer.alloc(300_000 + i, i);
      await appendFile(join(dir, 'pages-1.img'), chunk);
      await writeFile(join(dir, 'pagemap-1.img'), chunk);
      written += chunk.length;
      // Now and then the writer waits for the hasher to catch up: it reads while the file grows.
      if (i % 5 === 0)
        await waitFor('the hasher to catch up', () => hasher.progress().get('pages-1.img') === written);
    }
    const known = await hasher.finish();
    assert.deepEqual([...known.keys()], ['pages-1.img']);
    const size = 20 * 300_000 + 190;
    assert.deepEqual(known.get('pages-1.img'), {
      size,
      sha256: await hashChunked(join(dir, 'pages-1.img'), size, CHUNK_SIZE),
      chunkSize: CHUNK_SIZE,
    });
    // One chunk: the root is the sha256 of that chunk's sha256.
    const inner = createHash('sha256')
      .update(await readFile(join(dir, 'pages-1.img')))
      .digest();
    assert.equal(known.get('pages-1.img')!.sha256, createHash('sha256').update(inner).digest('hex'));
  });

  it('does not vouch for a file that shrank after it was read', async () => {
    const hasher = hashGrowingFiles(dir, /^pages-2\.img$/);
    await writeFile(join(dir, 'pages-2.img'), Buffer.alloc(1_000_000, 1));
    await waitFor('the hasher to read it all', () => hasher.progress().get('pages-2.img') === 1_000_000);
    await truncate(join(dir, 'pages-2.img'), 10);
    assert.equal((await hasher.finish()).has('pages-2.img'), false);
  });
});
