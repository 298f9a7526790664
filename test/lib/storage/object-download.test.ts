/**
 * Downloading a checkpoint's files from the object tier (s3rver on loopback): a chunked file comes as one
 * ranged GET per chunk, written in place and checked against the manifest as it arrives; a changed chunk
 * or a truncated object is refused, naming the file.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  chunkedEntry,
  createObjectTier,
  hashChunks,
  type Manifest,
  type ObjectTier,
} from '../../../src/lib/storage/index.js';
import { BUCKET, startObjectStorage, type TestObjectStorage } from '../../helpers/object-storage.js';

const MIB = 1 << 20;

describe('object storage: downloads in ranges, checked as they arrive (s3rver on loopback)', () => {
  let s3: TestObjectStorage;
  let tier: ObjectTier;
  let dir: string;
  let manifest: Manifest;
  const pages = randomBytes(3 * MIB + 12_345);
  const small = Buffer.from('a small image');

  before(async () => {
    s3 = await startObjectStorage();
    tier = createObjectTier(
      s3.agentClient,
      { bucket: BUCKET, prefix: 'dl/' },
      { partSize: 5 * MIB, queueSize: 2 },
    );
    dir = await mkdtemp(join(tmpdir(), 'snapback-download-'));
    await mkdir(join(dir, 'criu'));
    await writeFile(join(dir, 'criu', 'pages-1.img'), pages);
    await writeFile(join(dir, 'criu', 'inventory.img'), small);
    // An empty page image, chunked as CRIU's always are: its root is the sha256 of no digests.
    await writeFile(join(dir, 'criu', 'pages-2.img'), '');
    const chunked = chunkedEntry(
      pages.length,
      MIB,
      await hashChunks(join(dir, 'criu', 'pages-1.img'), pages.length, MIB),
    );
    manifest = {
      schemaVersion: 1,
      checkpointId: 'dl',
      version: randomUUID(),
      createdAt: new Date().toISOString(),
      node: 'test-node',
      runtime: 'process',
      target: { namespace: 'default', pod: 'dl' },
      workload: {},
      criu: { version: '4.2', leaveRunning: true },
      durations: {},
      sizeBytes: pages.length + small.length,
      files: [
        {
          path: 'criu/inventory.img',
          size: small.length,
          sha256: createHash('sha256').update(small).digest('hex'),
        },
        { path: 'criu/pages-1.img', ...chunked },
        { path: 'criu/pages-2.img', ...chunkedEntry(0, MIB, []) },
      ],
    };
    await tier.upload(dir, manifest, new AbortController().signal);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await s3.close();
  });

  const into = async (work: (target: string) => Promise<void>) => {
    const target = await mkdtemp(join(tmpdir(), 'snapback-download-to-'));
    try {
      await work(target);
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  };
  const replacePages = (body: Buffer) =>
    s3.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: `dl/dl/${manifest.version}/criu/pages-1.img`, Body: body }),
    );

  it('brings every file back, byte for byte, with the manifest', async () => {
    await into(async (target) => {
      await tier.download(manifest, target, new AbortController().signal);
      const key = `dl/dl/${manifest.version}/criu/pages-1.img`;
      assert.equal(s3.rangedGets.get(key), 4, 'one ranged GET per chunk');
      assert.equal(s3.rangedGets.get(`dl/dl/${manifest.version}/criu/inventory.img`), undefined);
      assert.ok((await readFile(join(target, 'criu', 'pages-1.img'))).equals(pages));
      assert.ok((await readFile(join(target, 'criu', 'inventory.img'))).equals(small));
      assert.equal((await readFile(join(target, 'criu', 'pages-2.img'))).length, 0);
      assert.equal(
        JSON.parse(await readFile(join(target, 'manifest.json'), 'utf8')).version,
        manifest.version,
      );
    });
  });

  it('refuses an object with one changed byte in a middle chunk, naming the file', async () => {
    const changed = Buffer.from(pages);
    changed[MIB + 77] = changed[MIB + 77]! ^ 0xff;
    await replacePages(changed);
    try {
      await into(async (target) => {
        await assert.rejects(tier.download(manifest, target, new AbortController().signal), (err: Error) => {
          assert.match(err.message, /is corrupted: criu\/pages-1\.img .* has a different sha256/);
          return true;
        });
      });
    } finally {
      await replacePages(pages);
    }
  });

  it('refuses a truncated object, saying its size', async () => {
    await replacePages(pages.subarray(0, 2 * MIB));
    try {
      await into(async (target) => {
        await assert.rejects(
          tier.download(manifest, target, new AbortController().signal),
          (err: Error & { code: string }) => {
            assert.equal(err.code, 'FAILED_PRECONDITION');
            assert.match(err.message, /criu\/pages-1\.img .* (has 2097152 bytes|is shorter)/);
            return true;
          },
        );
      });
    } finally {
      await replacePages(pages);
    }
  });
});
