/** The object tier's pure parts: its URL, and the digest a download checks as bytes arrive. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createArrivalHash, hashChunked, parseObjectStorageUrl } from '../../../src/lib/storage/index.js';

describe('object storage: URL and arrival hash', () => {
  it('parses s3://BUCKET[/PREFIX] and refuses anything else', () => {
    assert.deepEqual(parseObjectStorageUrl('s3://bucket-1'), { bucket: 'bucket-1', prefix: '' });
    assert.deepEqual(parseObjectStorageUrl('s3://bucket-1/a/b/'), { bucket: 'bucket-1', prefix: 'a/b/' });
    for (const bad of ['bucket', 's3://', 's3://Bucket/x', 'gs://bucket/x'])
      assert.throws(() => parseObjectStorageUrl(bad), /s3:\/\/BUCKET/, bad);
  });

  it('gives a chunked file the digest the manifest gives it, however the bytes arrive', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'snapback-arrival-'));
    try {
      const data = randomBytes(1000);
      const path = join(dir, 'f');
      await writeFile(path, data);
      const expected = await hashChunked(path, data.length, 64);
      const hash = createArrivalHash(64);
      // Pieces that straddle chunk boundaries, as a network delivers them.
      for (let at = 0; at < data.length; at += 37) hash.update(data.subarray(at, at + 37));
      assert.equal(hash.digest(), expected);
      const wrong = createArrivalHash(64);
      wrong.update(Buffer.concat([data.subarray(0, 999), Buffer.from([data[999]! ^ 1])]));
      assert.notEqual(wrong.digest(), expected);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
