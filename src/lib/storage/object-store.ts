/**
 * The object-storage tier: checkpoints copied to an S3-compatible bucket (AWS S3, GCS's XML API, MinIO,
 * Ceph RGW), so that one outlives its node. Layout under the configured prefix:
 *   <prefix><id>/<version>/<file>   every file the manifest lists, uploaded first, in parallel
 *   <prefix><id>/current            the manifest, written last: the commit point
 * A checkpoint exists in the bucket once `current` names its version; an upload cut short is never seen
 * (nothing names it), and its multipart uploads are aborted when it fails, or by `abandon` after a crash.
 * CRIU's page images — most of the bytes — go up while CRIU writes them (`uploadGrowing`): the dump and the
 * upload overlap instead of adding up.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { checkpointIdProblem } from '../../ids.js';
import { chunkRanges, rootOf } from './chunked-hash.js';
import type { FilePart } from './file-parts.js';
import { tailGrowingFile } from './growing-files.js';
import { type Manifest, type ManifestFile, parseManifest, writeManifest } from './manifest.js';
import { isVersionUuid, joinInside } from './paths.js';

const CURRENT_OBJECT = 'current';
/** Files moved at once; each multipart upload holds up to `queueSize` parts of `partSize` in memory. */
const FILES_AT_ONCE = 2;
/** Manifests read at once when listing. */
const READS_AT_ONCE = 8;
/** How often a folder being written is looked at for new files to follow. */
const FOLLOW_POLL_MS = 25;
/** How long a cancelled upload may take to abort its multipart upload cleanly. */
const CANCEL_GRACE_MS = 30_000;

/** One file followed as it is written (ObjectTier.uploadGrowing). */
interface Following {
  key: string;
  body: Readable;
  /** The SDK's upload, once it started. */
  sdk?: Upload;
  /** Resolves to the bytes sent once the object is complete. */
  sent: Promise<number>;
}

export interface ObjectStoreLocation {
  bucket: string;
  /** Ends with `/` unless empty (the bucket's root). */
  prefix: string;
}

export interface ObjectTierOptions {
  /** Bytes per multipart part (S3's minimum is 5 MiB). */
  partSize: number;
  /** Parts of one file in flight at once. */
  queueSize: number;
}

/** Uploads of files still being written (ObjectTier.uploadGrowing). */
export interface GrowingUploads {
  /** The writer is done: each upload reads to its file's final size, and files that appear no more. */
  writerDone(): void;
  /** Waits for every upload; returns the bytes each sent, by path in the checkpoint. Implies writerDone. */
  finished(): Promise<Map<string, number>>;
  /** Aborts what is running (its multipart upload with it) and deletes what was uploaded. */
  cancel(): Promise<void>;
}

export interface ObjectTier {
  /** `s3://bucket/prefix`, for messages and locations. */
  readonly url: string;
  /** The location of a version, as results report it. */
  locationOf(id: string, version: string): string;
  /**
   * Uploads every file of `dir` its manifest lists — but those `early` (GrowingUploads.finished) already
   * sent whole — then the manifest as `current`; deletes what it replaced.
   */
  upload(
    dir: string,
    manifest: Manifest,
    signal: AbortSignal,
    early?: ReadonlyMap<string, number>,
  ): Promise<void>;
  /**
   * Starts uploading the files of `<dir>/<sub>` whose names match `pattern` while their writer appends to
   * them (CRIU's page images), each to its key in version `version` of `id`; new files are followed as
   * they appear, until the writer is done.
   */
  uploadGrowing(
    id: string,
    version: string,
    dir: string,
    sub: string,
    pattern: RegExp,
    signal: AbortSignal,
  ): GrowingUploads;
  /** The manifest `current` names, or undefined when the bucket has no checkpoint of that id. */
  current(id: string): Promise<Manifest | undefined>;
  list(): Promise<Manifest[]>;
  /**
   * Downloads the files of `manifest` into `dir`, each checked against its sha256 as it arrives; those
   * `later` selects are only created, sparse at their size, for downloadPart to fill.
   */
  download(
    manifest: Manifest,
    dir: string,
    signal: AbortSignal,
    later?: (file: ManifestFile) => boolean,
  ): Promise<void>;
  /**
   * Writes `part` of a file `download` left for later into its place in `dir`, checking only its size: the
   * caller verifies the part (file-parts.ts).
   */
  downloadPart(
    manifest: Manifest,
    file: ManifestFile,
    part: FilePart,
    dir: string,
    signal: AbortSignal,
  ): Promise<void>;
  /** Unpublishes (deletes `current`) then deletes every object of the id. False when absent. */
  remove(id: string): Promise<boolean>;
  /**
   * Aborts multipart uploads under the prefix that belong to `versions` (this agent's own, cut short by its
   * crash) or were started over `olderThanMs` ago (another agent's), and deletes the objects of `versions`.
   * Returns what it aborted or deleted.
   */
  abandon(versions: ReadonlySet<string>, olderThanMs: number): Promise<string[]>;
}

/** Parses `s3://BUCKET[/PREFIX]`. */
export function parseObjectStorageUrl(url: string): ObjectStoreLocation {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (match === null) {
    throw new SnapbackError(
      ErrorCode.INVALID_ARGUMENT,
      `object storage ${JSON.stringify(url)} is not s3://BUCKET[/PREFIX]`,
      { details: [{ field: 'objectStorage', message: 'must be s3://BUCKET[/PREFIX]' }] },
    );
  }
  const prefix = (match[2] ?? '').replace(/^\/+|\/+$/g, '');
  return { bucket: match[1]!, prefix: prefix === '' ? '' : `${prefix}/` };
}

export function createObjectTier(
  client: S3Client,
  where: ObjectStoreLocation,
  options: ObjectTierOptions,
): ObjectTier {
  const { bucket, prefix } = where;
  const url = `s3://${bucket}/${prefix}`;
  const idKey = (id: string) => `${prefix}${id}/`;
  const fileKey = (id: string, version: string, path: string) => `${idKey(id)}${version}/${path}`;
  const currentKey = (id: string) => `${idKey(id)}${CURRENT_OBJECT}`;
  /** S3's answer in words, naming the object: never a raw SDK error. */
  const failure = (doing: string, key: string, err: unknown) => {
    if (err instanceof SnapbackError) return err;
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    const aborted = e.name === 'AbortError';
    return new SnapbackError(
      aborted ? ErrorCode.CANCELLED : ErrorCode.UNAVAILABLE,
      `${doing} s3://${bucket}/${key} failed: ${e.name ?? 'Error'}${status === undefined ? '' : ` (HTTP ${status})`}: ${e.message ?? String(err)}`,
      { cause: err },
    );
  };

  const getText = async (key: string): Promise<string | undefined> => {
    try {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return await got.Body!.transformToString('utf8');
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
      throw failure('reading', key, err);
    }
  };

  /** Every key under `under`, page by page. */
  async function* keysUnder(under: string): AsyncGenerator<string> {
    let token: string | undefined;
    do {
      const page = await client
        .send(new ListObjectsV2Command({ Bucket: bucket, Prefix: under, ContinuationToken: token }))
        .catch((err: unknown) => {
          throw failure('listing', under, err);
        });
      for (const object of page.Contents ?? []) if (object.Key !== undefined) yield object.Key;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  const deleteKeys = (keys: string[]) =>
    forEachAtOnce(keys, READS_AT_ONCE, async (key) => {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch((err: unknown) => {
        throw failure('deleting', key, err);
      });
    });

  /** One object from a stream (multipart in parallel past one part); `started` gets the SDK's handle. */
  const uploadStream = async (
    body: Readable,
    key: string,
    signal: AbortSignal,
    started: (upload: Upload) => void = () => {},
  ) => {
    const upload = new Upload({
      client,
      params: { Bucket: bucket, Key: key, Body: body },
      partSize: options.partSize,
      queueSize: options.queueSize,
      // A failed multipart upload is aborted at once, so its parts do not linger (and bill).
      leavePartsOnError: false,
    });
    started(upload);
    const stop = () => void upload.abort().catch(() => {});
    signal.addEventListener('abort', stop, { once: true });
    try {
      await upload.done();
    } catch (err) {
      throw failure('uploading', key, err);
    } finally {
      signal.removeEventListener('abort', stop);
      // A failed upload stops reading: the file it read from is closed now, not when collected.
      if (!body.readableEnded) body.destroy();
    }
  };
  const uploadFile = (path: string, key: string, signal: AbortSignal) =>
    uploadStream(createReadStream(path), key, signal);

  /**
   * GETs `range` of `key` (the whole object when undefined) and writes its bytes into `handle` at their
   * offsets, handing each piece to `onData`; returns what was wrong with the object's size, if anything
   * (the caller names the file), after reading every byte.
   */
  const getInto = async (
    handle: FileHandle,
    key: string,
    file: ManifestFile,
    range: FilePart | undefined,
    signal: AbortSignal,
    onData: (data: Uint8Array) => void = () => {},
  ): Promise<string | undefined> => {
    const header =
      range === undefined ? undefined : `bytes=${range.offset}-${range.offset + range.length - 1}`;
    const got = await client
      .send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          ...(header === undefined ? {} : { Range: header }),
        }),
        { abortSignal: signal },
      )
      .catch((err: unknown) => {
        // A range past the object's end: the object is shorter than the manifest says.
        if ((err as { name?: string }).name === 'InvalidRange') return undefined;
        throw failure('downloading', key, err);
      });
    if (got === undefined) return `is shorter than the ${file.size} bytes the manifest says`;
    // The object's whole size, as the answer to a range states it (or the object's own length): each
    // range returning what it asked for would not tell an object longer than the manifest says.
    const total =
      header === undefined
        ? got.ContentLength
        : Number(/^bytes \d+-\d+\/(\d+)$/.exec(got.ContentRange ?? '')?.[1] ?? Number.NaN);
    const offset = range?.offset ?? 0;
    let at = offset;
    try {
      for await (const data of got.Body as AsyncIterable<Uint8Array>) {
        onData(data);
        for (let done = 0; done < data.length; ) {
          const { bytesWritten } = await handle.write(data, done, data.length - done, at + done);
          done += bytesWritten;
        }
        at += data.length;
      }
    } catch (err) {
      throw failure('downloading', key, err);
    }
    // (A whole object's missing length is made up for by counting its bytes.)
    if (total !== undefined && total !== file.size)
      return Number.isNaN(total)
        ? 'was served without its size'
        : `has ${total} bytes, manifest says ${file.size}`;
    const length = range?.length ?? file.size;
    if (at - offset !== length)
      return `gave ${at - offset} bytes from offset ${offset}, manifest says ${length}`;
    return undefined;
  };

  const corrupted = (key: string, file: ManifestFile, problem: string) =>
    new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `checkpoint ${manifestIdOf(key, prefix)} in s3://${bucket} is corrupted: ${file.path} (s3://${bucket}/${key}) ${problem}`,
      { details: [{ field: 'files', message: `${file.path} ${problem}` }] },
    );

  /**
   * One file of a checkpoint, fetched into `dir` and checked against the manifest as it arrives. A chunked
   * file (chunked-hash.ts) comes as one ranged GET per chunk, `queueSize` at once — one stream from an
   * object store is far slower than several — each chunk hashed as its bytes arrive, so that the root is
   * known when the last byte is; any other file comes in one GET.
   */
  const downloadFile = async (file: ManifestFile, key: string, dir: string, signal: AbortSignal) => {
    const path = joinInside(dir, file.path);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    // One GET for a file hashed whole or of one chunk at most (an empty one too: its emptiness is checked).
    const chunks = file.chunkSize === undefined ? [] : chunkRanges(file.size, file.chunkSize);
    const ranged = chunks.length > 1;
    const ranges = ranged ? chunks : [{ offset: 0, length: file.size }];
    const digests: Buffer[] = new Array(ranges.length);
    const sizeProblems: string[] = [];
    const handle = await open(path, 'wx', 0o600);
    try {
      await forEachAtOnce([...ranges.keys()], options.queueSize, async (index) => {
        const range = ranges[index]!;
        const hash = createHash('sha256');
        const problem = await getInto(handle, key, file, ranged ? range : undefined, signal, (data) =>
          hash.update(data),
        );
        if (problem !== undefined) sizeProblems.push(problem);
        digests[index] = hash.digest();
      });
      // A checkpoint may be the only copy on this node: fsynced before it counts as downloaded.
      await handle.sync();
    } finally {
      await handle.close().catch(() => {});
    }
    // A chunked file's digest is the root over its chunks' (none for an empty file), else the file's own.
    const digestOf = () =>
      file.chunkSize === undefined ? digests[0]!.toString('hex') : rootOf(chunks.length === 0 ? [] : digests);
    const problem =
      sizeProblems[0] ??
      (digestOf() !== file.sha256 ? 'has a different sha256 than the manifest' : undefined);
    if (problem !== undefined) throw corrupted(key, file, problem);
  };

  const tier: ObjectTier = {
    url,
    locationOf: (id, version) => `s3://${bucket}/${idKey(id)}${version}/`,

    async upload(dir, manifest, signal, early = new Map()) {
      const id = manifest.checkpointId;
      const replaced = await tier.current(id).catch(() => undefined);
      // A file sent while it was written is sent again if what went up is not the file the manifest lists.
      const left = manifest.files.filter((file) => early.get(file.path) !== file.size);
      await forEachAtOnce(left, FILES_AT_ONCE, (file) =>
        uploadFile(joinInside(dir, file.path), fileKey(id, manifest.version, file.path), signal),
      );
      if (signal.aborted) throw failure('uploading', currentKey(id), signal.reason);
      // The commit point: only now does the bucket hold this checkpoint.
      const key = currentKey(id);
      await client
        .send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: `${JSON.stringify(manifest, null, 2)}\n`,
            ContentType: 'application/json',
          }),
          { abortSignal: signal },
        )
        .catch((err: unknown) => {
          throw failure('committing', key, err);
        });
      // What it replaced is unreachable now; a restore that was reading it fails on a missing file and
      // is retried against the new one.
      if (replaced !== undefined && replaced.version !== manifest.version) {
        await deleteKeys(replaced.files.map((f) => fileKey(id, replaced.version, f.path))).catch(() => {});
      }
    },

    uploadGrowing(id, version, dir, sub, pattern, signal) {
      let done = () => {};
      const writerDone = new Promise<void>((resolve) => {
        done = resolve;
      });
      const uploads = new Map<string, Following>();
      let stopped = false;
      const follow = async () => {
        for (const name of await readdir(join(dir, sub)).catch(() => [] as string[])) {
          const path = `${sub}/${name}`;
          if (!pattern.test(name) || uploads.has(path)) continue;
          const key = fileKey(id, version, path);
          let bytes = 0;
          const body = tailGrowingFile(join(dir, path), writerDone, (n) => {
            bytes += n;
          });
          const entry: Following = { key, body, sent: Promise.resolve(0) };
          entry.sent = uploadStream(body, key, signal, (sdk) => {
            entry.sdk = sdk;
          }).then(() => bytes);
          entry.sent.catch(() => {}); // awaited by finished() or cancel()
          uploads.set(path, entry);
        }
      };
      const loop = (async () => {
        while (!stopped) {
          await follow();
          await Promise.race([sleep(FOLLOW_POLL_MS), writerDone]);
          if (signal.aborted) stopped = true;
        }
      })();
      const stop = async () => {
        done();
        stopped = true;
        await loop;
      };
      return {
        writerDone: done,
        async finished() {
          await stop();
          await follow(); // a file that appeared as the writer finished
          const sent = new Map<string, number>();
          for (const [path, entry] of uploads) sent.set(path, await entry.sent);
          return sent;
        },
        async cancel() {
          await stop();
          const entries = [...uploads.values()];
          // A stream that fails makes the SDK abort its multipart upload before it answers (Upload.abort
          // answers at once and aborts later, in the background); a server that holds a part forever is
          // given up on after a while, and what it leaves is aborted by the next `abandon`.
          for (const entry of entries) entry.body.destroy(new Error('the checkpoint was abandoned'));
          const settled = Promise.allSettled(entries.map((entry) => entry.sent));
          let results = await within(settled, CANCEL_GRACE_MS);
          if (results === undefined) {
            await Promise.all(entries.map((entry) => entry.sdk?.abort().catch(() => {})));
            results = await within(settled, CANCEL_GRACE_MS);
          }
          // Only what is known to be up is deleted; anything still hanging is left to `abandon`.
          const uploaded = entries.filter((_, i) => results?.[i]?.status === 'fulfilled');
          await deleteKeys(uploaded.map((entry) => entry.key)).catch(() => {});
        },
      };
    },

    async current(id) {
      const text = await getText(currentKey(id));
      if (text === undefined) return undefined;
      const manifest = parseManifest(text, `s3://${bucket}/${currentKey(id)}`);
      if (manifest.checkpointId !== id || !isVersionUuid(manifest.version)) {
        throw new SnapbackError(
          ErrorCode.FAILED_PRECONDITION,
          `s3://${bucket}/${currentKey(id)} names checkpoint ${manifest.checkpointId} version ${manifest.version}, not a version of ${id}`,
        );
      }
      return manifest;
    },

    async list() {
      const ids: string[] = [];
      let token: string | undefined;
      do {
        const page = await client
          .send(
            new ListObjectsV2Command({
              Bucket: bucket,
              Prefix: prefix,
              Delimiter: '/',
              ContinuationToken: token,
            }),
          )
          .catch((err: unknown) => {
            throw failure('listing', prefix, err);
          });
        for (const common of page.CommonPrefixes ?? []) {
          const id = (common.Prefix ?? '').slice(prefix.length, -1);
          if (checkpointIdProblem(id) === undefined) ids.push(id);
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      const found: Manifest[] = [];
      // One unreadable checkpoint does not hide the others.
      await forEachAtOnce(ids, READS_AT_ONCE, async (id) => {
        const manifest = await tier.current(id).catch(() => undefined);
        if (manifest !== undefined) found.push(manifest);
      });
      return found.sort((a, b) => a.checkpointId.localeCompare(b.checkpointId));
    },

    async download(manifest, dir, signal, later = () => false) {
      await forEachAtOnce(manifest.files, FILES_AT_ONCE, async (file) => {
        if (!later(file))
          return downloadFile(file, fileKey(manifest.checkpointId, manifest.version, file.path), dir, signal);
        // Its size now, its bytes as downloadPart brings them (a sparse file until then).
        const path = joinInside(dir, file.path);
        await mkdir(dirname(path), { recursive: true, mode: 0o700 });
        const handle = await open(path, 'wx', 0o600);
        await handle.truncate(file.size).finally(() => handle.close());
      });
      await writeManifest(dir, manifest);
    },

    async downloadPart(manifest, file, part, dir, signal) {
      if (part.length === 0) return;
      const key = fileKey(manifest.checkpointId, manifest.version, file.path);
      const handle = await open(joinInside(dir, file.path), 'r+');
      try {
        const problem = await getInto(handle, key, file, part, signal);
        if (problem !== undefined) throw corrupted(key, file, problem);
      } finally {
        await handle.close().catch(() => {});
      }
    },

    async remove(id) {
      const key = currentKey(id);
      const existed = (await getText(key)) !== undefined;
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch((err: unknown) => {
        throw failure('deleting', key, err);
      });
      const rest: string[] = [];
      for await (const k of keysUnder(idKey(id))) rest.push(k);
      await deleteKeys(rest);
      return existed;
    },

    async abandon(versions, olderThanMs) {
      const done: string[] = [];
      const before = Date.now() - olderThanMs;
      let keyMarker: string | undefined;
      let uploadMarker: string | undefined;
      do {
        const page = await client
          .send(
            new ListMultipartUploadsCommand({
              Bucket: bucket,
              Prefix: prefix,
              KeyMarker: keyMarker,
              UploadIdMarker: uploadMarker,
            }),
          )
          .catch((err: unknown) => {
            throw failure('listing multipart uploads under', prefix, err);
          });
        for (const upload of page.Uploads ?? []) {
          if (upload.Key === undefined || upload.UploadId === undefined) continue;
          const mine = versions.has(versionOfKey(upload.Key, prefix) ?? '');
          const stale = (upload.Initiated?.getTime() ?? Date.now()) < before;
          if (!mine && !stale) continue;
          await client
            .send(
              new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }),
            )
            .catch((err: unknown) => {
              throw failure('aborting the multipart upload of', upload.Key!, err);
            });
          done.push(`s3://${bucket}/${upload.Key} (multipart upload ${upload.UploadId})`);
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        uploadMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
      } while (keyMarker !== undefined);
      if (versions.size > 0) {
        const orphans: string[] = [];
        for await (const key of keysUnder(prefix))
          if (versions.has(versionOfKey(key, prefix) ?? '')) orphans.push(key);
        await deleteKeys(orphans);
        done.push(...orphans.map((key) => `s3://${bucket}/${key}`));
      }
      return done;
    },
  };
  return tier;
}

/** What `work` settles to, or undefined if it takes longer than `ms`. */
async function within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  const timer = new AbortController();
  try {
    return await Promise.race([work, sleep(ms, undefined, { signal: timer.signal })]);
  } finally {
    timer.abort();
  }
}

/** The version segment of `<prefix><id>/<version>/…`, or undefined for any other key. */
function versionOfKey(key: string, prefix: string): string | undefined {
  const version = key.slice(prefix.length).split('/')[1];
  return version !== undefined && isVersionUuid(version) ? version : undefined;
}

function manifestIdOf(key: string, prefix: string): string {
  return key.slice(prefix.length).split('/')[0] ?? '';
}

/** Runs `work` on every item, at most `limit` at once; the first failure is thrown once all have settled. */
async function forEachAtOnce<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  let first: { err: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && first === undefined) {
      const item = items[next++]!;
      await work(item).catch((err: unknown) => {
        first ??= { err };
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (first !== undefined) throw first.err;
}
