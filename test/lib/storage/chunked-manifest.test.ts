/**
 * Big files are described and verified in chunks on every core, and a flipped byte in any chunk is caught;
 * each chunk's digest is listed, so that one chunk can be verified alone (a lazy restore's pages).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CHUNK_SIZE,
  describeFiles,
  type Manifest,
  parseManifest,
  partsOf,
  rootOf,
  verifyFiles,
  verifyPart,
} from '../../../src/lib/storage/index.js';

/** The entry as a manifest written before chunk digests has it. */
function withoutChunks(file: Manifest['files'][number]): Manifest['files'][number] {
  const { chunks: _chunks, ...older } = file;
  return older;
}

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

  it('lists each chunk digest, rooted in the file sha256, and refuses a manifest where they do not add up', async () => {
    const files = await describeFiles(dir);
    const pages = files.find((f) => f.path === 'criu/pages-1.img')!;
    assert.equal(pages.chunks?.length, 3);
    assert.equal(rootOf(pages.chunks!.map((c) => Buffer.from(c, 'hex'))), pages.sha256);
    const manifest = (changed: Partial<Manifest['files'][number]>) =>
      JSON.stringify({
        schemaVersion: 1,
        checkpointId: 'c',
        version: '0b5c4c1e-4c1e-4c1e-8c1e-0b5c4c1e4c1e',
        createdAt: new Date().toISOString(),
        node: 'n',
        runtime: 'process',
        target: { namespace: 'default', pod: 'p' },
        workload: {},
        criu: { version: '4.2', leaveRunning: true },
        durations: {},
        sizeBytes: pages.size,
        files: [{ ...pages, ...changed }],
      });
    assert.equal(parseManifest(manifest({}), 'test').files[0]!.chunks?.length, 3);
    assert.throws(
      () => parseManifest(manifest({ chunks: pages.chunks!.slice(1) }), 'test'),
      new RegExp(`lists 2 chunk digests for \\d+ bytes in chunks of ${CHUNK_SIZE}`),
    );
    assert.throws(
      () => parseManifest(manifest({ chunks: [...pages.chunks!].reverse() }), 'test'),
      /chunk digests do not make its sha256/,
    );
  });

  it('verifies one chunk alone, naming the bytes of one that changed; an older manifest, the whole file', async () => {
    const files = await describeFiles(dir);
    const pages = files.find((f) => f.path === 'criu/pages-1.img')!;
    const path = join(dir, pages.path);
    assert.deepEqual(
      partsOf(pages).map((p) => p.length),
      [CHUNK_SIZE, CHUNK_SIZE, 12_345],
    );
    const handle = await open(path, 'r+');
    const original = Buffer.alloc(1);
    await handle.read(original, 0, 1, CHUNK_SIZE + 5);
    await handle.write(Buffer.from([original[0]! ^ 0xff]), 0, 1, CHUNK_SIZE + 5);
    try {
      await verifyPart(manifestOf(files), pages, path, 0);
      await verifyPart(manifestOf(files), pages, path, 2);
      await assert.rejects(
        verifyPart(manifestOf(files), pages, path, 1),
        (err: Error & { phase?: string }) =>
          err.phase === 'verify' &&
          err.message.includes(
            `criu/pages-1.img (bytes ${CHUNK_SIZE}–${2 * CHUNK_SIZE}) has a different sha256`,
          ),
      );
      // Without chunk digests (a manifest written before them) the whole file is the one part.
      const older = withoutChunks(pages);
      assert.deepEqual(partsOf(older), [{ offset: 0, length: pages.size }]);
      await assert.rejects(verifyPart(manifestOf(files), older, path, 0), /has a different sha256/);
    } finally {
      await handle.write(original, 0, 1, CHUNK_SIZE + 5);
      await handle.close();
    }
    await verifyPart(manifestOf(files), withoutChunks(pages), path, 0);
  });
});
