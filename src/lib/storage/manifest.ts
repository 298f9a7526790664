/**
 * manifest.json: what a checkpoint holds, with size and sha256 of every file, versioned and
 * schema-checked. A restore verifies it first, so a truncated or corrupted image is refused with a clear
 * error before CRIU ever reads it.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readdir, readFile, realpath } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pLimit from 'p-limit';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { DNS1123_LABEL_PATTERN } from '../../ids.js';
import { ajv, detailsOf } from '../../validation/ajv.js';
import type { WorkloadHooks } from '../hooks/index.js';
import { CHUNK_SIZE, chunkedEntry, chunkRanges, hashChunks, rootOf } from './chunked-hash.js';
import { writeFileDurably } from './durable.js';
import type { KnownFile } from './growing-files.js';
import type { WorkloadIdentity } from './identity.js';
import { assertInside } from './paths.js';

export const MANIFEST_FILE = 'manifest.json';
/** Opens for reading, refusing a symbolic link in the last component (ELOOP). */
const READ_NO_FOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW;
export const MANIFEST_SCHEMA_VERSION = 1;
/** Files hashed at once by describeFiles (big ones are chunked over the worker pool anyway). */
const DESCRIBE_CONCURRENCY = 8;

export interface ManifestFile {
  path: string;
  size: number;
  /** sha256 of the file; with `chunkSize`, sha256 of its chunks' sha256 digests (chunked-hash.ts). */
  sha256: string;
  chunkSize?: number;
  /**
   * With `chunkSize`: each chunk's sha256, in order (their root is `sha256`), so that a part of the file
   * can be verified alone — a lazy restore serves pages chunk by chunk. Absent from older manifests.
   */
  chunks?: string[];
}

export interface Manifest {
  schemaVersion: 1;
  checkpointId: string;
  version: string;
  createdAt: string;
  node: string;
  runtime: string;
  target: { namespace: string; pod: string; container?: string };
  /** What the runtime needs to restore (e.g. the workload's command and stdio paths). */
  workload: Record<string, unknown>;
  criu: { version: string; leaveRunning: boolean };
  cuda?: { pids: number[]; gpus: string[] };
  /** The workload it belongs to, when the caller said (identity.ts): "latest" and retention go by it. */
  identity?: WorkloadIdentity;
  /** The hooks the checkpoint ran with: a restore that brings none of its own runs their `postRestore`. */
  hooks?: WorkloadHooks;
  durations: Record<string, number>;
  sizeBytes: number;
  files: ManifestFile[];
}

/** One hook (src/lib/hooks/types.ts); its values are checked again by whoever runs it. */
const hookSchema = {
  type: 'object',
  required: ['kind', 'timeoutMs'],
  properties: {
    kind: { enum: ['http', 'exec'] },
    method: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    path: { type: 'string' },
    command: { type: 'array', items: { type: 'string' } },
    timeoutMs: { type: 'integer', minimum: 1 },
  },
  additionalProperties: false,
} as const;

const validateManifest = ajv.compile<Manifest>({
  $id: 'https://snapback.io/schemas/manifest-v1.json',
  type: 'object',
  required: [
    'schemaVersion',
    'checkpointId',
    'version',
    'createdAt',
    'node',
    'runtime',
    'target',
    'workload',
    'criu',
    'durations',
    'sizeBytes',
    'files',
  ],
  properties: {
    schemaVersion: { const: MANIFEST_SCHEMA_VERSION },
    checkpointId: { type: 'string', pattern: DNS1123_LABEL_PATTERN },
    version: { type: 'string', format: 'uuid' },
    createdAt: { type: 'string', format: 'date-time' },
    node: { type: 'string' },
    runtime: { type: 'string', enum: ['process', 'containerd'] },
    target: {
      type: 'object',
      required: ['namespace', 'pod'],
      properties: { namespace: { type: 'string' }, pod: { type: 'string' }, container: { type: 'string' } },
      additionalProperties: false,
    },
    workload: { type: 'object' },
    criu: {
      type: 'object',
      required: ['version', 'leaveRunning'],
      properties: { version: { type: 'string' }, leaveRunning: { type: 'boolean' } },
      additionalProperties: false,
    },
    cuda: {
      type: 'object',
      required: ['pids', 'gpus'],
      properties: {
        pids: { type: 'array', items: { type: 'integer' } },
        gpus: { type: 'array', items: { type: 'string' } },
      },
      additionalProperties: false,
    },
    identity: {
      type: 'object',
      required: ['namespace', 'owner', 'container', 'image', 'gpus', 'arch'],
      properties: {
        namespace: { type: 'string' },
        owner: {
          type: 'object',
          required: ['kind', 'name'],
          properties: { kind: { type: 'string' }, name: { type: 'string' } },
          additionalProperties: false,
        },
        ordinal: { type: 'integer', minimum: 0 },
        container: { type: 'string' },
        image: { type: 'string' },
        gpus: {
          type: 'object',
          required: ['count'],
          properties: { count: { type: 'integer', minimum: 0 }, model: { type: 'string' } },
          additionalProperties: false,
        },
        arch: { type: 'string' },
      },
      additionalProperties: false,
    },
    hooks: {
      type: 'object',
      properties: { preCheckpoint: hookSchema, postRestore: hookSchema },
      additionalProperties: false,
    },
    durations: { type: 'object', additionalProperties: { type: 'number', minimum: 0 } },
    sizeBytes: { type: 'integer', minimum: 0 },
    files: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path', 'size', 'sha256'],
        properties: {
          // Relative, no `..` segment, no leading slash: a manifest cannot point outside its checkpoint.
          path: { type: 'string', pattern: '^(?!/)(?!.*(^|/)\\.\\.(/|$))[^\\u0000]+$' },
          size: { type: 'integer', minimum: 0 },
          sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          chunkSize: { type: 'integer', minimum: 1 << 20, maximum: 1 << 30 },
          chunks: { type: 'array', items: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
        },
        dependentRequired: { chunks: ['chunkSize'] },
        additionalProperties: false,
      },
    },
  },
  additionalProperties: false,
});

/** Lists every regular file below `dir` (manifest excluded) with its size and sha256. */
/**
 * Lists every regular file below `dir` (manifest excluded) with its size and sha256. `known` holds hashes
 * already taken (by relative path, e.g. while the file was written); each is used only if the file still
 * has the size it was hashed at.
 */
export async function describeFiles(
  dir: string,
  onBytes?: (n: number) => void,
  known: ReadonlyMap<string, KnownFile> = new Map(),
): Promise<ManifestFile[]> {
  // CRIU writes dozens of small images: hashed a few at once, their opens and reads overlap.
  const limit = pLimit(DESCRIBE_CONCURRENCY);
  const files = await Promise.all(
    (await walk(dir)).map((path) =>
      limit(async (): Promise<ManifestFile | undefined> => {
        const rel = relative(dir, path).split(sep).join('/');
        if (rel === MANIFEST_FILE) return undefined;
        const already = known.get(rel);
        if (already !== undefined && (await lstat(path)).size === already.size)
          return { path: rel, ...already };
        return { path: rel, ...(await hashForManifest(path, onBytes)) };
      }),
    ),
  );
  return files.filter((f) => f !== undefined).sort((a, b) => a.path.localeCompare(b.path));
}

export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  if (!validateManifest(manifest)) {
    throw new SnapbackError(
      ErrorCode.INTERNAL,
      `refusing to write an invalid manifest: ${JSON.stringify(validateManifest.errors)}`,
    );
  }
  const inconsistent = inconsistentChunks(manifest);
  if (inconsistent.length > 0) {
    throw new SnapbackError(
      ErrorCode.INTERNAL,
      `refusing to write an invalid manifest: ${inconsistent.join('; ')}`,
    );
  }
  await writeFileDurably(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Reads and schema-checks a manifest, without touching the files it lists. */
export async function readManifest(dir: string): Promise<Manifest> {
  let text: string;
  try {
    // O_NOFOLLOW: a manifest.json planted as a symlink is refused, never read through.
    text = await readFile(join(dir, MANIFEST_FILE), { encoding: 'utf8', flag: READ_NO_FOLLOW });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new SnapbackError(
        ErrorCode.FAILED_PRECONDITION,
        `${MANIFEST_FILE} of ${dir} is a symbolic link: refused`,
        { cause: err },
      );
    }
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `checkpoint at ${dir} has no readable ${MANIFEST_FILE}`,
      { cause: err },
    );
  }
  return parseManifest(text, `${MANIFEST_FILE} of ${dir}`);
}

/** Parses and schema-checks a manifest's text; `source` names where it came from in the error. */
export function parseManifest(text: string, source: string): Manifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, `${source} is not JSON`, { cause: err });
  }
  if (!validateManifest(parsed)) {
    const details = detailsOf(validateManifest.errors, 'manifest');
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `${source} is invalid: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`,
      { details },
    );
  }
  const inconsistent = inconsistentChunks(parsed);
  if (inconsistent.length > 0) {
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `${source} is invalid: ${inconsistent.join('; ')}`,
      {
        details: inconsistent.map((message) => ({ field: 'manifest.files', message })),
      },
    );
  }
  return parsed;
}

/**
 * Files whose chunk digests do not add up: one per chunk, rooted in the file's sha256. A chunk verified
 * alone is then as good as the whole file verified.
 */
function inconsistentChunks(manifest: Manifest): string[] {
  const problems: string[] = [];
  for (const file of manifest.files) {
    if (file.chunks === undefined || file.chunkSize === undefined) continue;
    if (file.chunks.length !== chunkRanges(file.size, file.chunkSize).length)
      problems.push(
        `${file.path} lists ${file.chunks.length} chunk digests for ${file.size} bytes in chunks of ${file.chunkSize}`,
      );
    else if (rootOf(file.chunks.map((c) => Buffer.from(c, 'hex'))) !== file.sha256)
      problems.push(`${file.path}'s chunk digests do not make its sha256`);
  }
  return problems;
}

/**
 * Before a staged checkpoint is published: its manifest reads, and every file it lists is there with the
 * size it lists. ABORTED naming each missing or short file otherwise (something removed the staging under
 * the writer — it must then fail, never be reported written).
 */
export async function assertComplete(dir: string): Promise<Manifest> {
  const manifest = await readManifest(dir).catch((err: unknown) => {
    throw new SnapbackError(ErrorCode.ABORTED, `the staged checkpoint has no valid ${MANIFEST_FILE}`, {
      cause: err,
      details: [{ field: 'files', message: `${MANIFEST_FILE} is missing or invalid` }],
    });
  });
  const problems: string[] = [];
  for (const file of manifest.files) {
    const info = await lstat(join(dir, file.path)).catch(() => undefined);
    if (info === undefined || !info.isFile()) problems.push(`${file.path} is missing`);
    else if (info.size !== file.size)
      problems.push(`${file.path} has ${info.size} bytes, manifest says ${file.size}`);
  }
  if (problems.length > 0) {
    throw new SnapbackError(
      ErrorCode.ABORTED,
      `checkpoint ${manifest.checkpointId} was not published: ${problems.join('; ')} (its staging changed under the writer)`,
      { details: problems.map((message) => ({ field: 'files', message })) },
    );
  }
  return manifest;
}

/**
 * Checks every listed file's size and sha256 (those `only` selects, when given); FAILED_PRECONDITION naming
 * each file that differs. `signal` stops it (whoever asked no longer needs the answer).
 */
export async function verifyFiles(
  dir: string,
  manifest: Manifest,
  options: {
    onBytes?: (n: number) => void;
    only?: (file: ManifestFile) => boolean;
    signal?: AbortSignal | undefined;
    /** Chunks hashed at once (chunked-hash.ts): fewer while CRIU restores beside. */
    threads?: number | undefined;
  } = {},
): Promise<void> {
  const { onBytes, only = () => true, signal, threads } = options;
  const problems: string[] = [];
  const realDir = await realpath(dir);
  for (const file of manifest.files.filter(only)) {
    signal?.throwIfAborted();
    const path = join(realDir, file.path);
    assertInside(realDir, path);
    let actual: { size: number; sha256: string; badChunks?: number[] };
    try {
      // Every component must be what it says: a folder of the checkpoint swapped for a symlink (to an
      // identical copy elsewhere, say) would otherwise pass, since lstat follows all but the last one.
      if ((await realpath(path)) !== path) {
        problems.push(`${file.path} is reached through a symbolic link`);
        continue;
      }
      const stat = await lstat(path);
      if (!stat.isFile()) {
        problems.push(`${file.path} is not a regular file`);
        continue;
      }
      if (stat.size !== file.size) {
        problems.push(`${file.path} has ${stat.size} bytes, manifest says ${file.size}`);
        continue;
      }
      if (file.chunkSize === undefined) actual = await hashFile(path, onBytes, signal);
      else {
        const digests = await hashChunks(path, stat.size, file.chunkSize, { onBytes, signal, threads });
        const hex = digests.map((d) => d.toString('hex'));
        actual = {
          size: stat.size,
          sha256: rootOf(digests),
          badChunks: hex.flatMap((d, i) => (file.chunks === undefined || d === file.chunks[i] ? [] : [i])),
        };
      }
    } catch {
      signal?.throwIfAborted();
      problems.push(`${file.path} is missing`);
      continue;
    }
    if (actual.sha256 !== file.sha256) {
      const which = actual.badChunks?.length
        ? ` (chunk ${actual.badChunks.join(', ')} of ${file.chunkSize} bytes)`
        : '';
      problems.push(`${file.path} has a different sha256 than the manifest${which}`);
    }
  }
  if (problems.length > 0) {
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `checkpoint ${manifest.checkpointId} is corrupted: ${problems.join('; ')}`,
      { details: problems.map((message) => ({ field: 'files', message })) },
    );
  }
}

/** Small files whole; big ones in chunks, hashed on every core. */
async function hashForManifest(
  path: string,
  onBytes?: (n: number) => void,
): Promise<Omit<ManifestFile, 'path'>> {
  const { size } = await lstat(path);
  if (size <= CHUNK_SIZE) return hashFile(path, onBytes);
  return chunkedEntry(size, CHUNK_SIZE, await hashChunks(path, size, CHUNK_SIZE, { onBytes }));
}

async function hashFile(
  path: string,
  onBytes?: (n: number) => void,
  signal?: AbortSignal,
): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  // Opened without following a final symlink; the stream closes the handle when done.
  const handle = await open(path, READ_NO_FOLLOW);
  await pipeline(
    handle.createReadStream({ highWaterMark: 1 << 20 }),
    async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.length;
        onBytes?.(chunk.length);
      }
    },
    ...(signal === undefined ? [] : [{ signal }]),
  );
  return { size, sha256: hash.digest('hex') };
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}
