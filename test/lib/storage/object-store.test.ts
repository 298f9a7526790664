/** The object tier's pure parts: its URL. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseObjectStorageUrl } from '../../../src/lib/storage/index.js';

describe('object storage: URL', () => {
  it('parses s3://BUCKET[/PREFIX] and refuses anything else', () => {
    assert.deepEqual(parseObjectStorageUrl('s3://bucket-1'), { bucket: 'bucket-1', prefix: '' });
    assert.deepEqual(parseObjectStorageUrl('s3://bucket-1/a/b/'), { bucket: 'bucket-1', prefix: 'a/b/' });
    for (const bad of ['bucket', 's3://', 's3://Bucket/x', 'gs://bucket/x'])
      assert.throws(() => parseObjectStorageUrl(bad), /s3:\/\/BUCKET/, bad);
  });
});
