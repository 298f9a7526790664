/**
 * Hostile ids and paths against storage: property-based (fast-check, seeded) over ids — `..`, absolute
 * paths, NUL, look-alike letters, over-long — and symlinks planted in a real store on disk that point
 * outside it. Every one is refused with a clear error; nothing outside the store is read or removed.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { SnapbackError } from '../../../src/errors.js';
import { assertCheckpointId } from '../../../src/ids.js';
import {
  type CheckpointStore,
  createCheckpointStore,
  joinInside,
  readManifest,
  storagePaths,
  verifyFiles,
} from '../../../src/lib/storage/index.js';
import { fcOptions, hasControlCharacters, hostileId } from '../../helpers/hostile.js';
import { refusedAs } from '../../helpers/refused.js';
import { takeCheckpoint as takeStored } from '../../helpers/stored-checkpoint.js';

describe('hostile ids and paths (property-based)', () => {
  const base = join(tmpdir(), 'snapback-never-created');
  const paths = storagePaths(base);

  it('every id is either a DNS-1123 label directly beneath the base, or refused naming checkpointId', () => {
    fc.assert(
      fc.property(hostileId(), (id) => {
        let path: string;
        try {
          path = paths.checkpoint(id);
        } catch (err) {
          assert.ok(err instanceof SnapbackError && err.code === 'INVALID_ARGUMENT', String(err));
          assert.equal(err.details[0]?.field, 'checkpointId');
          // The message never carries control characters raw (NUL, newlines, escapes).
          assert.ok(!hasControlCharacters(err.message), JSON.stringify(err.message));
          return;
        }
        assert.match(id, /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
        assert.equal(dirname(path), paths.base);
        assert.equal(path, join(paths.base, id));
      }),
      fcOptions(500),
    );
  });

  it('look-alike letters (fullwidth, Cyrillic) are refused even where they normalise to a valid id', () => {
    const lookAlikes = [
      'ｃｋｐｔ-1',
      'сkpt-1',
      'ckрt-1',
      'ckpt-Ι',
      'ckpt‐1',
      'ｃkpt',
      'ckpt\u200b1',
      'ckpt-１',
    ];
    for (const id of lookAlikes) {
      assert.throws(() => assertCheckpointId(id), refusedAs('INVALID_ARGUMENT', /checkpointId/));
      assert.throws(() => paths.current(id), refusedAs('INVALID_ARGUMENT'));
    }
    assert.equal(assertCheckpointId('ckpt-1'), 'ckpt-1');
  });

  it('version uuids and staging names must be uuids: anything else is refused, named and printable', () => {
    fc.assert(
      fc.property(hostileId(), (name) => {
        for (const attempt of [() => paths.staging('node-a', name), () => paths.version('ok', name)]) {
          assert.throws(attempt, (err: unknown) => {
            assert.ok(err instanceof SnapbackError && err.code === 'INVALID_ARGUMENT', String(err));
            assert.equal(err.details[0]?.field, 'version');
            assert.ok(!hasControlCharacters(err.message), JSON.stringify(err.message));
            return true;
          });
        }
      }),
      fcOptions(300),
    );
    assert.equal(dirname(paths.version('ok', randomUUID())), join(paths.base, 'ok', 'versions'));
  });

  it('owners (node names) must be DNS-1123 subdomains: nothing else names a staging folder or a lease', () => {
    fc.assert(
      fc.property(hostileId(), (name) => {
        if (/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) && !name.includes('..')) return;
        for (const attempt of [() => paths.stagingRoot(name), () => paths.agentLease(name)]) {
          assert.throws(attempt, (err: unknown) => {
            assert.ok(err instanceof SnapbackError && err.code === 'INVALID_ARGUMENT', String(err));
            assert.ok(!hasControlCharacters(err.message), JSON.stringify(err.message));
            return true;
          });
        }
      }),
      fcOptions(300),
    );
    assert.equal(
      paths.stagingRoot('ip-10-0-0-1.ec2.internal'),
      join(paths.base, 'tmp', 'ip-10-0-0-1.ec2.internal'),
    );
  });

  it('joinInside never returns a path outside its root, whatever the segments', () => {
    const segment = fc.oneof(
      fc.constantFrom('..', '.', '/', '/etc', '../..', 'a/../..', '', 'x'),
      fc.string({ maxLength: 8 }),
    );
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), (parts) => {
        const root = join(tmpdir(), 'root');
        try {
          const path = joinInside(root, ...parts);
          assert.ok(path === root || path.startsWith(root + sep), path);
        } catch (err) {
          assert.ok(err instanceof SnapbackError && err.code === 'INVALID_ARGUMENT', String(err));
        }
      }),
      fcOptions(500),
    );
  });
});

describe('symlinks planted in storage pointing outside it', () => {
  let dir: string;
  let store: CheckpointStore;
  /** A folder outside the store holding an exact copy of a checkpoint: following a link would "work". */
  let outside: string;

  const takeCheckpoint = (id: string) => takeStored(store, id);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapback-hostile-'));
    store = createCheckpointStore(join(dir, 'store'), { owner: 'test-node' });
    await store.init();
    outside = join(dir, 'outside');
    await mkdir(outside);
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a `current` link pointing outside versions/ is refused, never followed; list skips it', async () => {
    const version = await takeCheckpoint('cur-out');
    await cp(version, join(outside, 'cur-out'), { recursive: true });
    for (const target of [
      join(outside, 'cur-out'),
      '../../outside/cur-out',
      'versions/../../../outside/cur-out',
    ]) {
      await rm(join(store.paths.base, 'cur-out', 'current'));
      await symlink(target, join(store.paths.base, 'cur-out', 'current'));
      await assert.rejects(
        store.get('cur-out'),
        refusedAs('FAILED_PRECONDITION', /points outside its versions/),
      );
    }
    assert.ok(!(await store.list()).some((c) => c.id === 'cur-out'));
  });

  it('a version folder replaced by a symlink to /etc or to a copy outside is refused', async () => {
    const version = await takeCheckpoint('ver-link');
    await cp(version, join(outside, 'ver-link'), { recursive: true });
    for (const target of ['/etc', join(outside, 'ver-link')]) {
      await rm(version, { recursive: true, force: true });
      await symlink(target, version);
      await assert.rejects(store.get('ver-link'), refusedAs('INVALID_ARGUMENT', /leaves the storage base/));
      await assert.rejects(store.currentDir('ver-link'), refusedAs('INVALID_ARGUMENT'));
    }
    assert.ok(!(await store.list()).some((c) => c.id === 'ver-link'));
  });

  it('a manifest entry that is a symlink (even to identical bytes) is refused by verification', async () => {
    const version = await takeCheckpoint('file-link');
    const copy = join(outside, 'pages-1.img');
    await cp(join(version, 'criu', 'pages-1.img'), copy);
    await rm(join(version, 'criu', 'pages-1.img'));
    await symlink(copy, join(version, 'criu', 'pages-1.img'));
    const found = (await store.get('file-link'))!;
    await assert.rejects(
      verifyFiles(found.dir, found.manifest),
      refusedAs('FAILED_PRECONDITION', /criu\/pages-1\.img .*symbolic link/),
    );
  });

  it('a folder of the checkpoint replaced by a symlink to an identical copy outside is refused', async () => {
    const version = await takeCheckpoint('dir-link');
    await cp(join(version, 'criu'), join(outside, 'criu'), { recursive: true });
    await rm(join(version, 'criu'), { recursive: true });
    await symlink(join(outside, 'criu'), join(version, 'criu'));
    const found = (await store.get('dir-link'))!;
    await assert.rejects(
      verifyFiles(found.dir, found.manifest),
      refusedAs('FAILED_PRECONDITION', /criu\/pages-1\.img .*symbolic link/),
    );
  });

  it('a manifest.json that is a symlink (to a valid manifest) is refused, not read through', async () => {
    const version = await takeCheckpoint('man-link');
    await rename(join(version, 'manifest.json'), join(outside, 'manifest.json'));
    await symlink(join(outside, 'manifest.json'), join(version, 'manifest.json'));
    await assert.rejects(readManifest(version), refusedAs('FAILED_PRECONDITION', /symbolic link/));
    await assert.rejects(store.get('man-link'), refusedAs('FAILED_PRECONDITION'));
  });

  it('a checkpoint folder that is itself a symlink outside is neither listed nor read', async () => {
    const version = await takeCheckpoint('whole');
    await cp(dirname(dirname(version)), join(outside, 'whole'), { recursive: true, verbatimSymlinks: true });
    await rm(dirname(dirname(version)), { recursive: true });
    await symlink(join(outside, 'whole'), join(store.paths.base, 'whole'));
    assert.ok(!(await store.list()).some((c) => c.id === 'whole'));
    await assert.rejects(store.get('whole'), refusedAs('INVALID_ARGUMENT', /leaves the storage base/));
  });

  it('the start-up sweep never removes anything through a planted link (tmp/ or versions/)', async () => {
    const victim = join(outside, 'victim');
    await mkdir(victim);
    await writeFile(join(victim, 'precious'), 'keep me');
    await writeFile(join(victim, `${randomUUID()}`), 'keep me too');
    // versions/ of a checkpoint replaced by a link to the victim (its `current` still names a uuid).
    const version = await takeCheckpoint('sweep-versions');
    const versions = dirname(version);
    await rm(versions, { recursive: true });
    await symlink(victim, versions);
    await store.init();
    assert.deepEqual((await readdir(victim)).length, 2, 'the sweep removed files outside the store');
    // tmp/ replaced by a link to the victim: staging would land outside, so the store refuses to start.
    await rm(join(store.paths.base, 'tmp'), { recursive: true });
    await symlink(victim, join(store.paths.base, 'tmp'));
    await assert.rejects(store.init(), refusedAs('FAILED_PRECONDITION', /tmp.*symbolic link/));
    await assert.rejects(store.createStaging(), refusedAs('FAILED_PRECONDITION'));
    assert.equal(await readFile(join(victim, 'precious'), 'utf8'), 'keep me');
    assert.equal((await readdir(victim)).length, 2);
  });
});
