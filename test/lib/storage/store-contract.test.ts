/**
 * One store contract, run against both backends the agent can have: the local store (a folder, maybe a
 * shared volume) and the local store in front of an object-storage tier (s3rver on loopback). A checkpoint
 * is published the way the executor publishes it — with a tier, uploaded and committed in the bucket
 * before the local promote — and then got, listed, replaced, opened for reading and deleted alike. With a
 * tier, a second node (an empty local store on the same bucket) sees it too, and fetches it whole.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type CheckpointStore,
  createCheckpointStore,
  createObjectTier,
  createTieredStore,
  type RemoteCopies,
} from '../../../src/lib/storage/index.js';
import { BUCKET, startObjectStorage, type TestObjectStorage } from '../../helpers/object-storage.js';
import { refusedAs } from '../../helpers/refused.js';
import { stageCheckpoint } from '../../helpers/stored-checkpoint.js';

interface Backend {
  /** A store of node `owner` (its own local folder). */
  storeOn(owner: string): Promise<{ store: CheckpointStore; remote?: RemoteCopies }>;
  close(): Promise<void>;
}

async function localBackend(): Promise<Backend> {
  const base = await mkdtemp(join(tmpdir(), 'snapback-contract-'));
  return {
    async storeOn(owner) {
      // One shared folder: the local backend's "other node" shares the volume.
      const store = createCheckpointStore(join(base, 'volume'), { owner });
      await store.init();
      return { store };
    },
    close: () => rm(base, { recursive: true, force: true }),
  };
}

async function tieredBackend(s3: TestObjectStorage): Promise<Backend> {
  const base = await mkdtemp(join(tmpdir(), 'snapback-contract-'));
  const tier = createObjectTier(
    s3.agentClient,
    { bucket: BUCKET, prefix: 'contract/' },
    { partSize: 5 << 20, queueSize: 2 },
  );
  return {
    async storeOn(owner) {
      // Each node its own local folder: the bucket is what they share.
      const local = createCheckpointStore(join(base, owner), { owner });
      const tiered = createTieredStore(local, tier, { abandonAfterMs: 86_400_000, partsAtOnce: 4 });
      await tiered.store.init();
      return tiered;
    },
    close: () => rm(base, { recursive: true, force: true }),
  };
}

/** As the executor: staged, uploaded and committed in the bucket (with a tier), then promoted here. */
async function publish(node: { store: CheckpointStore; remote?: RemoteCopies }, id: string, content: string) {
  const staging = await stageCheckpoint(node.store, id, content);
  await node.remote?.upload(staging, new AbortController().signal);
  await node.store.promote(id, staging);
  return staging.uuid;
}

let s3: TestObjectStorage;
before(async () => {
  s3 = await startObjectStorage();
});
after(async () => {
  await s3.close();
});

for (const [name, make] of [
  ['local store', () => localBackend()],
  ['local store in front of an object-storage tier', () => tieredBackend(s3)],
] as const) {
  describe(`checkpoint store contract: ${name}`, () => {
    let backend: Backend;
    let a: { store: CheckpointStore; remote?: RemoteCopies };
    before(async () => {
      backend = await make();
      a = await backend.storeOn('node-a');
    });
    after(async () => {
      await a.store.close();
      await backend.close();
    });

    it('gets and lists what was published, and the replacement once it is', async () => {
      const first = await publish(a, 'alpha', 'first pages');
      assert.equal((await a.store.get('alpha'))?.manifest.version, first);
      const second = await publish(a, 'alpha', 'second pages');
      assert.equal((await a.store.get('alpha'))?.manifest.version, second);
      const listed = (await a.store.list()).filter((c) => c.id === 'alpha');
      assert.deepEqual(
        listed.map((c) => c.manifest.version),
        [second],
      );
    });

    it('opens the current version for reading, with its files', async () => {
      await publish(a, 'beta', 'beta pages');
      const opened = await a.store.openForReading('beta');
      try {
        assert.equal(await readFile(join(opened.dir, 'criu', 'pages-1.img'), 'utf8'), 'beta pages');
      } finally {
        await opened.release();
      }
    });

    it('answers an unknown id with nothing, and NOT_FOUND when asked to read it', async () => {
      assert.equal(await a.store.get('nobody'), undefined);
      assert.equal(await a.store.remove('nobody'), false);
      await assert.rejects(a.store.openForReading('nobody'), refusedAs('NOT_FOUND'));
    });

    it('deletes a checkpoint: gone from get and list', async () => {
      await publish(a, 'gamma', 'gamma pages');
      assert.equal(await a.store.remove('gamma'), true);
      assert.equal(await a.store.get('gamma'), undefined);
      assert.ok(!(await a.store.list()).some((c) => c.id === 'gamma'));
    });

    it('is seen from another node, whose restore reads the same bytes', async () => {
      const version = await publish(a, 'delta', 'delta pages');
      const b = await backend.storeOn('node-b');
      try {
        assert.equal((await b.store.get('delta'))?.manifest.version, version);
        await b.remote?.fetch('delta', new AbortController().signal);
        const opened = await b.store.openForReading('delta');
        try {
          assert.equal(await readFile(join(opened.dir, 'criu', 'pages-1.img'), 'utf8'), 'delta pages');
        } finally {
          await opened.release();
        }
      } finally {
        await b.store.close();
      }
    });
  });
}
