/**
 * Uploading files while they are written (the object tier's uploadGrowing), against s3rver on loopback:
 * parts go up before the writer is done, the objects are the whole files, a file that appears late is
 * followed too, and a cancel or a refused part leaves no multipart upload open and nothing uploaded.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createObjectTier, type ObjectTier } from '../../../src/lib/storage/index.js';
import { BUCKET, startObjectStorage, type TestObjectStorage } from '../../helpers/object-storage.js';
import { waitFor } from '../../helpers/proc.js';

const MIB = 1 << 20;
const PAGES = /^pages-\d+\.img$/;

describe('object storage: uploads that follow files as they are written (s3rver on loopback)', () => {
  let s3: TestObjectStorage;
  let tier: ObjectTier;
  let dir: string;
  let version: string;

  before(async () => {
    s3 = await startObjectStorage();
    tier = createObjectTier(
      s3.agentClient,
      { bucket: BUCKET, prefix: 'follow/' },
      { partSize: 5 * MIB, queueSize: 2 },
    );
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapback-follow-'));
    await mkdir(join(dir, 'criu'));
    version = randomUUID();
    s3.parts = 'pass';
  });
  after(async () => {
    await s3.close();
  });

  const keyOf = (path: string) => `follow/ckpt/${version}/${path}`;
  const objectBytes = async (path: string) => {
    const got = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: keyOf(path) }));
    return Buffer.from(await got.Body!.transformToByteArray());
  };
  const keysOfVersion = async () =>
    (
      (await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `follow/ckpt/${version}/` })))
        .Contents ?? []
    ).map((o) => o.Key);

  it('sends parts while the file grows and ends with the whole file; follows a file that appears late', async () => {
    const written = [randomBytes(12 * MIB), randomBytes(3 * MIB + 17)];
    await appendFile(join(dir, 'criu', 'pages-1.img'), written[0]!);
    const uploads = tier.uploadGrowing('ckpt', version, dir, 'criu', PAGES, new AbortController().signal);
    // The writer is not done: two whole parts are already in the bucket's hands.
    await waitFor(
      'parts of the growing file',
      async () => (s3.partsPassed.get(keyOf('criu/pages-1.img')) ?? 0) >= 2,
    );
    await appendFile(join(dir, 'criu', 'pages-1.img'), written[1]!);
    const late = randomBytes(100_000);
    await appendFile(join(dir, 'criu', 'pages-2.img'), late);
    await appendFile(join(dir, 'criu', 'pagemap-1.img'), 'not followed');
    const sent = await uploads.finished();
    const whole = Buffer.concat(written);
    assert.deepEqual([...sent].sort(), [
      ['criu/pages-1.img', whole.length],
      ['criu/pages-2.img', late.length],
    ]);
    assert.ok((await objectBytes('criu/pages-1.img')).equals(whole), 'the object is the whole file');
    assert.ok((await objectBytes('criu/pages-2.img')).equals(late));
    assert.deepEqual(s3.openUploads(), []);
    await rm(dir, { recursive: true, force: true });
  });

  it('cancelled, aborts what runs and deletes what went up', async () => {
    await appendFile(join(dir, 'criu', 'pages-1.img'), randomBytes(12 * MIB));
    await appendFile(join(dir, 'criu', 'pages-2.img'), randomBytes(1000));
    const uploads = tier.uploadGrowing('ckpt', version, dir, 'criu', PAGES, new AbortController().signal);
    await waitFor('a part to go up', async () => (s3.partsPassed.get(keyOf('criu/pages-1.img')) ?? 0) >= 1);
    uploads.writerDone();
    await waitFor('the small file to be up', async () =>
      (await keysOfVersion()).includes(keyOf('criu/pages-2.img')),
    );
    await uploads.cancel();
    assert.deepEqual(s3.openUploads(), [], 'no multipart upload is left open');
    assert.deepEqual(await keysOfVersion(), [], 'what went up was deleted');
    await rm(dir, { recursive: true, force: true });
  });

  it('fails, naming the object, when the server refuses a part, and leaves no multipart upload open', async () => {
    s3.parts = 'fail';
    await appendFile(join(dir, 'criu', 'pages-1.img'), randomBytes(12 * MIB));
    const uploads = tier.uploadGrowing('ckpt', version, dir, 'criu', PAGES, new AbortController().signal);
    await assert.rejects(uploads.finished(), (err: Error) => {
      assert.match(
        err.message,
        new RegExp(`s3://${BUCKET}/${keyOf('criu/pages-1.img')} failed: InternalError`),
      );
      return true;
    });
    await waitFor('the multipart upload to be aborted', async () => s3.openUploads().length === 0);
    await uploads.cancel();
    assert.deepEqual(await keysOfVersion(), []);
    await rm(dir, { recursive: true, force: true });
  });
});
