/**
 * The storage layout (docs/architecture.md, "Storage") and the guard that every path stays beneath the base:
 *   <base>/tmp/<uuid>/                      staging (0700), swept at agent start
 *   <base>/<id>/current -> versions/<uuid>  the checkpoint, swapped atomically by rename
 *   <base>/<id>/versions/<uuid>/            manifest.json, criu/, rootfs-diff.tar, deleted-files.json, cuda.json
 */
import { lstat, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { assertCheckpointId } from './ids.js';

export const STAGING_DIR = 'tmp';
export const CURRENT_LINK = 'current';
export const VERSIONS_DIR = 'versions';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface StoragePaths {
  readonly base: string;
  staging(uuid: string): string;
  checkpoint(id: string): string;
  current(id: string): string;
  version(id: string, uuid: string): string;
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
  return {
    base: root,
    staging: (u) => inside(STAGING_DIR, uuid(u)),
    checkpoint: (id) => inside(assertCheckpointId(id)),
    current: (id) => inside(assertCheckpointId(id), CURRENT_LINK),
    version: (id, u) => inside(assertCheckpointId(id), VERSIONS_DIR, uuid(u)),
  };
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

export function joinInside(root: string, ...parts: string[]): string {
  const path = join(root, ...parts);
  assertInside(root, path);
  return path;
}
