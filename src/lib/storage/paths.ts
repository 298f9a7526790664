/**
 * The storage layout (docs/architecture.md, "Storage") and the guard that every path stays beneath the base:
 *   <base>/<id>/current -> versions/<uuid>  the checkpoint, swapped atomically by rename
 *   <base>/<id>/versions/<uuid>/            manifest.json, criu/, rootfs-diff.tar, deleted-files.json, cuda.json
 *   <base>/<id>/readers/<uuid>--<n>.json    a restore reading that version (reader lease)
 *   <base>/tmp/<owner>/<uuid>/              staging of the agent <owner> (0700): only that agent sweeps it
 *   <base>/tmp/<owner>.lease                that agent's liveness lease, renewed by its heartbeat
 *   <base>/tmp/.locks/<id>.lock             the writer lock of a checkpoint id, across agents
 * The owner is the agent's node name: agents sharing one volume never touch each other's staging.
 */
import { lstat, mkdir, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { assertCheckpointId } from '../../ids.js';

export const STAGING_DIR = 'tmp';
export const CURRENT_LINK = 'current';
export const VERSIONS_DIR = 'versions';
export const READERS_DIR = 'readers';
export const LOCKS_DIR = '.locks';
const LEASE_SUFFIX = '.lease';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A node name (DNS-1123 subdomain): never `.`-led, so it cannot collide with the layout's own names. */
const OWNER = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export interface StoragePaths {
  readonly base: string;
  /** `<base>/tmp`: every agent's staging folder and lease, and the id locks. */
  readonly stagingBase: string;
  stagingRoot(owner: string): string;
  staging(owner: string, uuid: string): string;
  agentLease(owner: string): string;
  idLock(id: string): string;
  checkpoint(id: string): string;
  current(id: string): string;
  version(id: string, uuid: string): string;
  readers(id: string): string;
}

/** Why `owner` cannot name an agent's share of the storage, or undefined when it can. */
export function ownerProblem(owner: string): string | undefined {
  if (OWNER.test(owner) && !owner.includes('..')) return undefined;
  return 'must be a DNS-1123 subdomain (a node name): lowercase letters, digits, "-" and "."';
}

/** The owner named by a lease file's name (`<owner>.lease`), or undefined for any other name. */
export function ownerOfLeaseFile(name: string): string | undefined {
  if (!name.endsWith(LEASE_SUFFIX)) return undefined;
  const owner = name.slice(0, -LEASE_SUFFIX.length);
  return ownerProblem(owner) === undefined ? owner : undefined;
}

export function storagePaths(base: string): StoragePaths {
  const root = resolve(base);
  const inside = (...parts: string[]) => {
    const path = resolve(root, ...parts);
    assertInside(root, path);
    return path;
  };
  const uuid = (value: string) => {
    if (!UUID.test(value)) {
      const printable = JSON.stringify(value.slice(0, 80));
      throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, `${printable} is not a version uuid`, {
        details: [{ field: 'version', message: 'must be a lower-case uuid' }],
      });
    }
    return value;
  };
  const owner = (value: string) => {
    const problem = ownerProblem(value);
    if (problem !== undefined) {
      throw new SnapbackError(
        ErrorCode.INVALID_ARGUMENT,
        `storage owner ${JSON.stringify(value.slice(0, 80))} ${problem}`,
        {
          details: [{ field: 'node', message: problem }],
        },
      );
    }
    return value;
  };
  return {
    base: root,
    stagingBase: inside(STAGING_DIR),
    stagingRoot: (o) => inside(STAGING_DIR, owner(o)),
    staging: (o, u) => inside(STAGING_DIR, owner(o), uuid(u)),
    agentLease: (o) => inside(STAGING_DIR, `${owner(o)}${LEASE_SUFFIX}`),
    idLock: (id) => inside(STAGING_DIR, LOCKS_DIR, `${assertCheckpointId(id)}.lock`),
    checkpoint: (id) => inside(assertCheckpointId(id)),
    current: (id) => inside(assertCheckpointId(id), CURRENT_LINK),
    version: (id, u) => inside(assertCheckpointId(id), VERSIONS_DIR, uuid(u)),
    readers: (id) => inside(assertCheckpointId(id), READERS_DIR),
  };
}

/** Whether `value` has the shape of a version uuid. */
export function isVersionUuid(value: string): boolean {
  return UUID.test(value);
}

export function assertInside(root: string, path: string): void {
  const rel = relative(root, path);
  if (rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel))) return;
  throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, `path ${path} leaves the storage base`);
}

/**
 * The real location of a path that must stay beneath `root` once symlinks are followed: a link planted
 * in storage that points elsewhere is refused, never read through.
 */
export async function realPathInside(root: string, path: string): Promise<string> {
  const [realRoot, real] = await Promise.all([realpath(root), realpath(path)]);
  assertInside(realRoot, real);
  return real;
}

/**
 * Refuses a folder of the layout (tmp/, versions/) that is a symbolic link or not a folder at all: a sweep
 * or a staging write through it would act outside the store. Absent is fine (it is created).
 */
export async function assertRealFolder(path: string): Promise<void> {
  const stat = await lstat(path).catch(() => undefined);
  if (stat === undefined || (stat.isDirectory() && !stat.isSymbolicLink())) return;
  throw new SnapbackError(
    ErrorCode.FAILED_PRECONDITION,
    stat.isSymbolicLink()
      ? `checkpoint storage refuses ${path}: it is a symbolic link (storage must hold its own folders)`
      : `checkpoint storage is not writable: ${path} is not a folder`,
  );
}

/** Creates a folder of the layout (and its parents); FAILED_PRECONDITION when the storage cannot hold it. */
export async function ensureFolder(path: string): Promise<void> {
  await assertRealFolder(path);
  try {
    await mkdir(path, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `checkpoint storage is not writable (${code} creating ${path})`,
      { cause: err },
    );
  }
}

export function joinInside(root: string, ...parts: string[]): string {
  const path = join(root, ...parts);
  assertInside(root, path);
  return path;
}
