/**
 * The checkpoint store on a local folder or a volume shared by the agents of many nodes. A checkpoint is
 * staged under the agent's own tmp/<owner>/<uuid>, then promoted under the id's lock: checked complete,
 * moved to <id>/versions/<uuid> and published by renaming a fresh `current` symlink over the old one, so at
 * every moment a complete checkpoint is reachable. A version a restore still reads outlives its replacement
 * until the read is over (reader leases); nothing another live agent holds is ever swept (agent leases).
 */
import { randomUUID } from 'node:crypto';
import { lstat, mkdir, readdir, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { checkpointIdProblem } from '../../ids.js';
import { type AgentLease, acquireAgentLease } from './agent-lease.js';
import { collectDeadOwners, collectVersions, currentVersion } from './collect.js';
import { fsyncPath } from './durable.js';
import { createIdLocks, type IdLocks } from './id-lock.js';
import { assertComplete, type Manifest, readManifest } from './manifest.js';
import {
  assertRealFolder,
  CURRENT_LINK,
  ensureFolder,
  realPathInside,
  type StoragePaths,
  storagePaths,
  VERSIONS_DIR,
} from './paths.js';
import { createReaderLeases, type ReaderLeases } from './readers.js';

export interface Staging {
  uuid: string;
  dir: string;
}

export interface StoredCheckpoint {
  id: string;
  dir: string;
  manifest: Manifest;
}

/** The right to write one checkpoint id, held by one agent at a time across the volume. */
export interface WriteLock {
  /** Checks the staged checkpoint is complete, publishes it, and collects what it replaced. */
  promote(staging: Staging): Promise<string>;
  release(): Promise<void>;
}

/** A version being read by a restore: kept until `release`, even if a newer one is promoted meanwhile. */
export interface OpenedCheckpoint {
  dir: string;
  version: string;
  release(): Promise<void>;
}

export interface CheckpointStore {
  readonly paths: StoragePaths;
  /** This agent's name on the volume (its node), which names its staging and its leases. */
  readonly owner: string;
  /** This agent's staging folder: everything below it is its own. */
  readonly stagingRoot: string;
  /** Takes this agent's lease on the volume (idempotent); every other method needs it first. */
  open(): Promise<void>;
  /**
   * `open`, then removes this agent's own leftover staging and collects what dead agents left. Returns
   * what it removed. An agent recovers first (a CRIU its predecessor left may still write to staging).
   */
  init(): Promise<string[]>;
  /** Stops the heartbeat and the collector and gives the lease back. */
  close(): Promise<void>;
  createStaging(): Promise<Staging>;
  discardStaging(staging: Staging): Promise<void>;
  /** The id's writer lock; ALREADY_EXISTS naming the agent that holds it. */
  beginWrite(id: string, purpose: string): Promise<WriteLock>;
  /** `beginWrite`, `promote`, `release` in one. */
  promote(id: string, staging: Staging): Promise<string>;
  /** The directory of the current version, or undefined when there is no checkpoint of that id. */
  currentDir(id: string): Promise<string | undefined>;
  get(id: string): Promise<StoredCheckpoint | undefined>;
  list(): Promise<StoredCheckpoint[]>;
  /** Deletes a checkpoint; refused while it is written or read by any agent. False when absent. */
  remove(id: string): Promise<boolean>;
  /** The current version, leased for reading (NOT_FOUND when there is none). */
  openForReading(id: string): Promise<OpenedCheckpoint>;
  /** Collects leftovers of dead agents and unread old versions; what `init` does after its own sweep. */
  collect(): Promise<string[]>;
}

export interface CheckpointStoreOptions {
  /** The agent's node name. */
  owner: string;
  /** How long an agent's lease lasts without a heartbeat (default 30 s). */
  leaseTtlMs?: number;
  /** How often dead agents' leftovers are collected after `init` (default every 4 TTLs). */
  collectEveryMs?: number;
  /** Told about heartbeat and collection problems; neither stops the agent. */
  onProblem?: (message: string, err?: unknown) => void;
}

const DEFAULT_LEASE_TTL_MS = 30_000;
/** Reading `current` again after the reader lease is in place; it changes only when promoted over. */
const OPEN_ATTEMPTS = 5;

export function createCheckpointStore(base: string, options: CheckpointStoreOptions): CheckpointStore {
  const paths = storagePaths(base);
  const owner = options.owner;
  const stagingRoot = paths.stagingRoot(owner);
  const ttlMs = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  let held: { lease: AgentLease; locks: IdLocks; readers: ReaderLeases } | undefined;
  const need = () => {
    if (held === undefined)
      throw new SnapbackError(ErrorCode.INTERNAL, 'the checkpoint store was not initialised');
    return held;
  };
  const problem = options.onProblem ?? (() => {});
  let collector: NodeJS.Timeout | undefined;
  let collecting: Promise<void> | undefined;

  const collectIfIdle = async (id: string): Promise<string[]> => {
    const { locks, readers } = need();
    const lock = await locks.tryAcquire(id, 'collect');
    if (lock === undefined) return []; // its holder collects when it promotes
    try {
      return await collectVersions(paths, readers, id);
    } finally {
      await lock.release();
    }
  };

  const store: CheckpointStore = {
    paths,
    owner,
    stagingRoot,

    async open() {
      // A tmp/ planted as a link: the sweep would empty whatever it points at.
      await assertRealFolder(paths.stagingBase);
      await mkdir(paths.stagingBase, { recursive: true, mode: 0o700 });
      if (held === undefined) {
        const lease = await acquireAgentLease({ paths, owner, ttlMs, onProblem: problem });
        held = { lease, locks: createIdLocks(paths, lease), readers: createReaderLeases(paths, lease) };
      }
    },

    async init() {
      await store.open();
      await assertRealFolder(paths.stagingBase);
      await ensureFolder(stagingRoot);
      const removed: string[] = [];
      for (const entry of await readdir(stagingRoot).catch(() => [] as string[])) {
        await rm(join(stagingRoot, entry), { recursive: true, force: true });
        removed.push(join(stagingRoot, entry));
      }
      removed.push(...(await store.collect()));
      // From now on, every few TTLs (never during recovery, which comes before init): one run at a time.
      if (collector === undefined) {
        collector = setInterval(
          () => {
            if (collecting !== undefined) return;
            collecting = store
              .collect()
              .then(
                () => {},
                (err: unknown) => problem('collecting leftovers failed', err),
              )
              .finally(() => {
                collecting = undefined;
              });
          },
          options.collectEveryMs ?? 4 * ttlMs,
        );
        collector.unref();
      }
      return removed;
    },

    async close() {
      if (held === undefined) return;
      clearInterval(collector);
      collector = undefined;
      await collecting;
      await held.lease.release();
      held = undefined;
    },

    async createStaging() {
      need();
      const uuid = randomUUID();
      const dir = paths.staging(owner, uuid);
      await assertRealFolder(paths.stagingBase);
      await ensureFolder(stagingRoot);
      await ensureFolder(dir);
      return { uuid, dir };
    },

    async discardStaging(staging) {
      await rm(paths.staging(owner, staging.uuid), { recursive: true, force: true });
    },

    async beginWrite(id, purpose) {
      const { lease, locks, readers } = need();
      const lock = await locks.acquire(id, purpose);
      return {
        async promote(staging) {
          // Every file the manifest lists must be there, whole: a checkpoint reported written must restore.
          await assertComplete(staging.dir);
          const checkpointDir = paths.checkpoint(id);
          const versionsDir = join(checkpointDir, VERSIONS_DIR);
          await assertRealFolder(versionsDir);
          await mkdir(versionsDir, { recursive: true, mode: 0o700 });
          const target = paths.version(id, staging.uuid);
          await rename(staging.dir, target);
          await fsyncPath(versionsDir);
          // Published only by the lock's holder: an agent whose lease lapsed (a long stall, a volume that
          // would not take its renewals) may have been taken for dead and its lock broken by another.
          if (!lease.valid() || !(await lock.stillHeld())) {
            throw new SnapbackError(
              ErrorCode.ABORTED,
              `checkpoint ${id} was not published: this agent's hold on the storage lapsed while it wrote, and another agent may have taken the id over; try again`,
            );
          }
          // Publish: a new link beside `current`, renamed over it (rename(2) replaces atomically).
          const link = join(checkpointDir, `.${CURRENT_LINK}-${staging.uuid}`);
          await symlink(join(VERSIONS_DIR, staging.uuid), link);
          await rename(link, paths.current(id));
          await fsyncPath(checkpointDir);
          await fsyncPath(paths.base);
          // The version it replaced goes now, unless a restore reads it (its release collects it then).
          await collectVersions(paths, readers, id).catch((err: unknown) =>
            problem(`collecting old versions of ${id} failed`, err),
          );
          return target;
        },
        release: () => lock.release(),
      };
    },

    async promote(id, staging) {
      const lock = await store.beginWrite(id, 'promote');
      try {
        return await lock.promote(staging);
      } finally {
        await lock.release();
      }
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
      const { locks, readers } = need();
      const dir = paths.checkpoint(id);
      if ((await lstat(dir).catch(() => undefined)) === undefined) return false;
      const lock = await locks.acquire(id, 'delete');
      try {
        const refuseIfRead = async () => {
          const reading = await readers.live(id);
          if (reading.length === 0) return;
          const nodes = [...new Set(reading.map((r) => r.owner))].join(', ');
          throw new SnapbackError(
            ErrorCode.FAILED_PRECONDITION,
            `cannot delete checkpoint ${id}: a restore (on node ${nodes}) is still reading it; retry when it has completed`,
          );
        };
        await refuseIfRead();
        // Unpublished first, so that no restore opens it any more, then asked again: a reader lands its
        // lease before it checks `current` once more (openForReading), so one that got in is seen now.
        const hidden = join(dir, `.${CURRENT_LINK}-removed-${randomUUID()}`);
        const published = await rename(paths.current(id), hidden).then(
          () => true,
          () => false,
        );
        try {
          await refuseIfRead();
        } catch (err) {
          if (published) await rename(hidden, paths.current(id)).catch(() => {});
          throw err;
        }
        // Moved out of sight (into this agent's staging), so nobody finds it half-deleted.
        const trash = paths.staging(owner, randomUUID());
        await mkdir(stagingRoot, { recursive: true, mode: 0o700 });
        if (
          !(await rename(dir, trash).then(
            () => true,
            () => false,
          ))
        )
          return false;
        await fsyncPath(paths.base);
        await rm(trash, { recursive: true, force: true });
        return true;
      } finally {
        await lock.release();
      }
    },

    async openForReading(id) {
      const { readers } = need();
      for (let attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
        const version = await currentVersion(paths, id);
        if (version === undefined)
          throw new SnapbackError(ErrorCode.NOT_FOUND, `no checkpoint with id ${id}`);
        const close = await readers.open(id, version);
        // A promotion between reading `current` and the lease landing may already have collected the
        // version; once the lease is in place and `current` still names it, it stays until released.
        if ((await currentVersion(paths, id).catch(() => undefined)) !== version) {
          await close();
          continue;
        }
        const dir = await realPathInside(paths.base, paths.version(id, version)).catch(
          async (err: unknown) => {
            await close();
            throw err;
          },
        );
        let released = false;
        return {
          dir,
          version,
          async release() {
            if (released) return;
            released = true;
            await close();
            await collectIfIdle(id).catch((err: unknown) => problem(`collecting ${id} failed`, err));
          },
        };
      }
      throw new SnapbackError(
        ErrorCode.ABORTED,
        `checkpoint ${id} was replaced ${OPEN_ATTEMPTS} times while a restore tried to open it; try again`,
      );
    },

    async collect() {
      const { lease } = need();
      const removed = await collectDeadOwners(paths, lease);
      for (const id of await checkpointIds(paths.base)) {
        // One id that cannot be collected (unreadable, hostile) does not stop the others.
        removed.push(
          ...(await collectIfIdle(id).catch((err: unknown) => {
            problem(`collecting ${id} failed`, err);
            return [];
          })),
        );
      }
      return removed;
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
