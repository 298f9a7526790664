/**
 * Hashing files while they are written: the same digests as hashing them after, chunks hashed while the file
 * still grows, and no trust in a shrunk file. Chunks of 1 MiB (the smallest a manifest allows) keep it small.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashGrowingFiles } from '../../../src/lib/storage/index.js';
import { waitFor } from '../../helpers/proc.js';

const CHUNK = 1 << 20;

describe('hashGrowingFiles', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapback-growing-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('hashes appended files as the parallel chunked hash of the finished file does, and ignores other names', async () => {
    const hasher = hashGrowingFiles(dir, /^pages-\d+\.img$/, CHUNK);
    let written = 0;
    for (let i = 0; i < 20; i++) {
      const chunk = Buffer.alloc(300_000 + i, i);
      await appendFile(join(dir, 'pages-1.img'), chunk);
      await writeFile(join(dir, 'pagemap-1.img'), chunk);
      written += chunk.length;
      // Now and then the writer waits for the hasher to catch up: every whole chunk is hashed while the
      // file grows, the last partial one only once the writer is done.
      const whole = written - (written % CHUNK);
      if (i % 5 === 0 && whole > 0)
        await waitFor('the hasher to catch up', () => hasher.progress().get('pages-1.img') === whole);
    }
    const known = await hasher.finish();
    assert.deepEqual([...known.keys()], ['pages-1.img']);
    const size = 20 * 300_000 + 190;
    // Each chunk's sha256 is listed; the root is the sha256 of those digests, in order.
    const bytes = await readFile(join(dir, 'pages-1.img'));
    const chunks: Buffer[] = [];
    for (let at = 0; at < size; at += CHUNK)
      chunks.push(
        createHash('sha256')
          .update(bytes.subarray(at, at + CHUNK))
          .digest(),
      );
    const root = createHash('sha256');
    for (const chunk of chunks) root.update(chunk);
    assert.deepEqual(known.get('pages-1.img'), {
      size,
      sha256: root.digest('hex'),
      chunkSize: CHUNK,
      chunks: chunks.map((c) => c.toString('hex')),
    });
  });

  it('cancelled with chunks still queued, settles and hashes no more', async () => {
    await writeFile(join(dir, 'pages-3.img'), Buffer.alloc(64 * CHUNK, 3));
    const hasher = hashGrowingFiles(dir, /^pages-3\.img$/, CHUNK);
    // At once: its first look queues every chunk of the file, a core's worth hashed at a time.
    await hasher.cancel();
    assert.ok((hasher.progress().get('pages-3.img') ?? 0) < 64 * CHUNK, 'the queued chunks were dropped');
  });

  it('does not vouch for a file that shrank after it was read', async () => {
    const hasher = hashGrowingFiles(dir, /^pages-2\.img$/, CHUNK);
    await writeFile(join(dir, 'pages-2.img'), Buffer.alloc(3 * CHUNK, 1));
    await waitFor('the hasher to read it all', () => hasher.progress().get('pages-2.img') === 3 * CHUNK);
    await truncate(join(dir, 'pages-2.img'), 10);
    assert.equal((await hasher.finish()).has('pages-2.img'), false);
  });
});
