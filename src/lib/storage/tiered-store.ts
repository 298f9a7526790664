/**
 * The local store in front of an object-storage tier (object-store.ts). CRIU writes and reads local files,
 * so a checkpoint is staged, verified and restored locally as always; the bucket is where it is durable
 * beyond the node, and what lists it: with a tier configured, a checkpoint exists when the bucket's
 * `current` names it, and the local copy is a cache of that version.
 */
import { basename, dirname } from 'node:path';
import pLimit from 'p-limit';
import { fsyncPath } from './durable.js';
import type { FilePart } from './file-parts.js';
import { type ManifestFile, readManifest } from './manifest.js';
import type { GrowingUploads, ObjectTier } from './object-store.js';
import { joinInside } from './paths.js';
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
  /**
   * For a restore that needs only some parts of some files at first (a lazy restore's page images): when
   * the local store does not hold the bucket's version, stages it with every other file downloaded and
   * verified, and those `later` selects sparse at their size, to be filled part by part. Undefined when the
   * local copy is the bucket's version (or the bucket has none): restore from the local store as usual.
   */
  fetchLazily(
    id: string,
    signal: AbortSignal,
    later: (file: ManifestFile) => boolean,
  ): Promise<PartialCopy | undefined>;
}

/** A version being brought from the bucket part by part (RemoteCopies.fetchLazily). */
export interface PartialCopy {
  /** The staged checkpoint (its manifest is there). */
  readonly dir: string;
  /** Brings one part of a `later` file (a ranged GET), a few at once; the caller verifies it. */
  fetchPart(file: ManifestFile, part: FilePart, signal: AbortSignal): Promise<void>;
  /** Every part is in and verified: made durable and promoted, as a downloaded checkpoint is. */
  keep(): Promise<void>;
  /** Drops what was staged (the restore failed). */
  discard(): Promise<void>;
}

export interface TieredStoreOptions {
  /** Multipart uploads of other agents older than this are taken for abandoned and aborted. */
  abandonAfterMs: number;
  /** Parts fetched at once for a partial copy (ranged GETs). */
  partsAtOnce: number;
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

  /** The bucket's version of `id` when the local store does not hold it; undefined when none is to move. */
  const notHeld = async (id: string) => {
    const wanted = await tier.current(id);
    if (wanted === undefined) return undefined;
    const cached = await local.get(id).catch(() => undefined);
    return cached?.manifest.version === wanted.version ? undefined : wanted;
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
      const wanted = await notHeld(id);
      if (wanted === undefined) return false;
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

    async fetchLazily(id, signal, later) {
      const wanted = await notHeld(id);
      if (wanted === undefined) return undefined;
      const staging = await local.createStaging();
      try {
        await tier.download(wanted, staging.dir, signal, later);
      } catch (err) {
        await local.discardStaging(staging).catch(() => {});
        throw err;
      }
      const limit = pLimit(options.partsAtOnce);
      return {
        dir: staging.dir,
        fetchPart: (file, part, partSignal) =>
          limit(() => tier.downloadPart(wanted, file, part, staging.dir, partSignal)),
        async keep() {
          // Written part by part without a sync: durable before the copy counts as this node's.
          for (const file of wanted.files.filter(later)) await fsyncPath(joinInside(staging.dir, file.path));
          await local.promote(id, staging);
        },
        discard: () => local.discardStaging(staging),
      };
    },
  };
  return { store, remote };
}
