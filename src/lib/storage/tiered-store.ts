/**
 * The local store in front of an object-storage tier (object-store.ts). CRIU writes and reads local files,
 * so a checkpoint is staged, verified and restored locally as always; the bucket is where it is durable
 * beyond the node, and what lists it: with a tier configured, a checkpoint exists when the bucket's
 * `current` names it, and the local copy is a cache of that version.
 */
import { basename, dirname } from 'node:path';
import { readManifest } from './manifest.js';
import type { GrowingUploads, ObjectTier } from './object-store.js';
import type { CheckpointStore, Staging, StoredCheckpoint } from './store.js';

/** What the executor does with the tier: upload before publishing, fetch before restoring. */
export interface RemoteCopies {
  /** `s3://bucket/prefix`. */
  readonly url: string;
  /**
   * Starts uploading the staged files of `sub` matching `pattern` while they are written (CRIU's page
   * images): `upload` then waits for them instead of sending them again.
   */
  follow(staging: Staging, id: string, sub: string, pattern: RegExp, signal: AbortSignal): GrowingUploads;
  /** Uploads a complete staged checkpoint (what `early` has not sent) and commits it in the bucket. */
  upload(staging: Staging, signal: AbortSignal, early?: GrowingUploads): Promise<void>;
  /**
   * Makes the local store hold the version the bucket names (downloaded and verified, staged and promoted
   * like a checkpoint written here). False when nothing had to move.
   */
  fetch(id: string, signal: AbortSignal): Promise<boolean>;
}

export interface TieredStoreOptions {
  /** Multipart uploads of other agents older than this are taken for abandoned and aborted. */
  abandonAfterMs: number;
  onProblem?: (message: string, err?: unknown) => void;
}

export function createTieredStore(
  local: CheckpointStore,
  tier: ObjectTier,
  options: TieredStoreOptions,
): { store: CheckpointStore; remote: RemoteCopies } {
  const problem = options.onProblem ?? (() => {});
  /** The local copy when it is the bucket's version, else the bucket's. */
  const resolve = (id: string, remote: StoredCheckpoint['manifest'], cached?: StoredCheckpoint) =>
    cached !== undefined && cached.manifest.version === remote.version
      ? cached
      : { id, dir: tier.locationOf(id, remote.version), manifest: remote };

  const store: CheckpointStore = {
    ...local,

    async init() {
      const removed = await local.init();
      // This agent's own staging that a crash cut short names the versions whose uploads it left.
      const mine = new Set(
        removed.filter((path) => dirname(path) === local.stagingRoot).map((path) => basename(path)),
      );
      const abandoned = await tier.abandon(mine, options.abandonAfterMs).catch((err: unknown) => {
        problem(`cleaning up abandoned uploads in ${tier.url} failed`, err);
        return [] as string[];
      });
      return [...removed, ...abandoned];
    },

    async get(id) {
      const remote = await tier.current(id);
      if (remote === undefined) return undefined;
      return resolve(id, remote, await local.get(id).catch(() => undefined));
    },

    async list() {
      const cached = new Map((await local.list()).map((c) => [c.id, c]));
      return (await tier.list()).map((m) => resolve(m.checkpointId, m, cached.get(m.checkpointId)));
    },

    async remove(id) {
      const remote = await tier.remove(id);
      const cached = await local.remove(id);
      return remote || cached;
    },
  };

  const remote: RemoteCopies = {
    url: tier.url,

    follow(staging, id, sub, pattern, signal) {
      return tier.uploadGrowing(id, staging.uuid, staging.dir, sub, pattern, signal);
    },

    async upload(staging, signal, early) {
      const sent = early === undefined ? undefined : await early.finished();
      await tier.upload(staging.dir, await readManifest(staging.dir), signal, sent);
    },

    async fetch(id, signal) {
      const wanted = await tier.current(id);
      if (wanted === undefined) return false;
      const cached = await local.get(id).catch(() => undefined);
      if (cached?.manifest.version === wanted.version) return false;
      const staging = await local.createStaging();
      try {
        await tier.download(wanted, staging.dir, signal);
        await local.promote(id, staging);
      } catch (err) {
        await local.discardStaging(staging).catch(() => {});
        throw err;
      }
      return true;
    },
  };
  return { store, remote };
}
