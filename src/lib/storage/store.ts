/**
 * The checkpoint store on a local folder or shared volume. A checkpoint is staged under tmp/<uuid>,
 * then promoted: moved to <id>/versions/<uuid> and published by renaming a fresh `current` symlink over
 * the old one, so at every moment a complete checkpoint is reachable; the old version is removed after.
 */
import { randomUUID } from 'node:crypto';
import { lstat, mkdir, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { fsyncPath } from './durable.js';
import { checkpointIdProblem } from './ids.js';
import { type Manifest, readManifest } from './manifest.js';
import {
  assertRealFolder,
  CURRENT_LINK,
  realPathInside,
  STAGING_DIR,
  type StoragePaths,
  storagePaths,
  VERSIONS_DIR,
} from './paths.js';

export interface Staging {
  uuid: string;
  dir: string;
}

export interface StoredCheckpoint {
  id: string;
  dir: string;
  manifest: Manifest;
}

export interface CheckpointStore {
  readonly paths: StoragePaths;
  /** Creates the layout and removes staging and orphaned versions left by a crash. Returns what it removed. */
  init(): Promise<string[]>;
  createStaging(): Promise<Staging>;
  discardStaging(staging: Staging): Promise<void>;
  promote(id: string, staging: Staging): Promise<string>;
  /** The directory of the current version, or undefined when there is no checkpoint of that id. */
  currentDir(id: string): Promise<string | undefined>;
  get(id: string): Promise<StoredCheckpoint | undefined>;
  list(): Promise<StoredCheckpoint[]>;
  remove(id: string): Promise<boolean>;
  /** Marks a checkpoint as being read (lazy restore): replacing or removing it is refused until released. */
  lease(id: string): () => void;
}

export function createCheckpointStore(base: string): CheckpointStore {
  const paths = storagePaths(base);
  const leases = new Map<string, number>();
  const assertNotLeased = (id: string, what: string) => {
    if ((leases.get(id) ?? 0) > 0) {
      throw new SnapbackError(
        ErrorCode.FAILED_PRECONDITION,
        `cannot ${what} checkpoint ${id}: a lazy restore is still reading it; retry when it has completed`,
      );
    }
  };

  const store: CheckpointStore = {
    paths,
    async init() {
      const removed: string[] = [];
      // A tmp/ planted as a link: the sweep below would empty whatever it points at.
      await assertRealFolder(join(paths.base, STAGING_DIR));
      await mkdir(join(paths.base, STAGING_DIR), { recursive: true, mode: 0o700 });
      for (const entry of await readdir(join(paths.base, STAGING_DIR))) {
        const path = join(paths.base, STAGING_DIR, entry);
        await rm(path, { recursive: true, force: true });
        removed.push(path);
      }
      for (const id of await checkpointIds(paths.base)) {
        // A `current` that points outside its versions is left alone (and refused on every read): it is
        // not this agent's doing, and deleting what someone planted could delete what they pointed at.
        const current = await currentVersion(paths, id).catch(() => null);
        if (current === null) continue;
        // A crash between creating the new link and renaming it over `current` leaves the link behind.
        for (const entry of await readdir(paths.checkpoint(id)).catch(() => [] as string[])) {
          if (entry.startsWith(`.${CURRENT_LINK}-`)) {
            await rm(join(paths.checkpoint(id), entry), { force: true });
            removed.push(join(paths.checkpoint(id), entry));
          }
        }
        const versionsDir = join(paths.checkpoint(id), VERSIONS_DIR);
        // Likewise a versions/ planted as a link is left alone (every read refuses it).
        if (
          !(await assertRealFolder(versionsDir).then(
            () => true,
            () => false,
          ))
        )
          continue;
        for (const version of await readdir(versionsDir).catch(() => [] as string[])) {
          if (version === current) continue;
          await rm(join(versionsDir, version), { recursive: true, force: true });
          removed.push(join(versionsDir, version));
        }
        if (current === undefined) {
          await rm(paths.checkpoint(id), { recursive: true, force: true });
          removed.push(paths.checkpoint(id));
        }
      }
      return removed;
    },

    async createStaging() {
      const uuid = randomUUID();
      const dir = paths.staging(uuid);
      await assertRealFolder(join(paths.base, STAGING_DIR));
      try {
        await mkdir(join(paths.base, STAGING_DIR), { recursive: true, mode: 0o700 });
        await mkdir(dir, { mode: 0o700 });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        throw new SnapbackError(
          ErrorCode.FAILED_PRECONDITION,
          `checkpoint storage is not writable (${code} creating its staging folder)`,
          {
            cause: err,
          },
        );
      }
      return { uuid, dir };
    },

    async discardStaging(staging) {
      await rm(paths.staging(staging.uuid), { recursive: true, force: true });
    },

    async promote(id, staging) {
      assertNotLeased(id, 'replace');
      const checkpointDir = paths.checkpoint(id);
      const versionsDir = join(checkpointDir, VERSIONS_DIR);
      await assertRealFolder(versionsDir);
      await mkdir(versionsDir, { recursive: true, mode: 0o700 });
      const previous = await currentVersion(paths, id);
      const target = paths.version(id, staging.uuid);
      await rename(staging.dir, target);
      await fsyncPath(versionsDir);
      // Publish: a new link beside `current`, renamed over it (rename(2) replaces atomically).
      const link = join(checkpointDir, `.${CURRENT_LINK}-${staging.uuid}`);
      await symlink(join(VERSIONS_DIR, staging.uuid), link);
      await rename(link, paths.current(id));
      await fsyncPath(checkpointDir);
      await fsyncPath(paths.base);
      if (previous !== undefined && previous !== staging.uuid) {
        await rm(join(versionsDir, previous), { recursive: true, force: true });
      }
      return target;
    },

    async currentDir(id) {
      const version = await currentVersion(paths, id);
      if (version === undefined) return undefined;
      return realPathInside(paths.base, paths.version(id, version));
    },

    async get(id) {
      const dir = await store.currentDir(id);
      if (dir === undefined) return undefined;
      return { id, dir, manifest: await readManifest(dir) };
    },

    async list() {
      const out: StoredCheckpoint[] = [];
      for (const id of await checkpointIds(paths.base)) {
        const found = await store.get(id).catch(() => undefined);
        if (found) out.push(found);
      }
      return out;
    },

    async remove(id) {
      assertNotLeased(id, 'delete');
      const dir = paths.checkpoint(id);
      if ((await lstat(dir).catch(() => undefined)) === undefined) return false;
      // Move it out of sight first, so a reader never finds a half-deleted checkpoint.
      const trash = paths.staging(randomUUID());
      await mkdir(join(paths.base, STAGING_DIR), { recursive: true, mode: 0o700 });
      await rename(dir, trash);
      await fsyncPath(paths.base);
      await rm(trash, { recursive: true, force: true });
      return true;
    },

    lease(id) {
      leases.set(id, (leases.get(id) ?? 0) + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (leases.get(id) ?? 1) - 1;
        if (left <= 0) leases.delete(id);
        else leases.set(id, left);
      };
    },
  };
  return store;
}

async function checkpointIds(base: string): Promise<string[]> {
  const entries = await readdir(base, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isDirectory() && checkpointIdProblem(e.name) === undefined)
    .map((e) => e.name);
}

/** The version uuid `current` points at; a link pointing anywhere but versions/<uuid> is refused. */
async function currentVersion(paths: StoragePaths, id: string): Promise<string | undefined> {
  let target: string;
  try {
    target = await readlink(paths.current(id));
  } catch {
    return undefined;
  }
  const version = basename(target);
  if (target !== join(VERSIONS_DIR, version)) {
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `checkpoint ${id}: "current" points outside its versions (${target})`,
    );
  }
  paths.version(id, version); // validates the uuid shape
  return version;
}
