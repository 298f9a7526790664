/**
 * The storage layout (DESIGN §5) and the guard that every path stays beneath the base:
 *   <base>/tmp/<uuid>/                      staging (0700), swept at agent start
 *   <base>/<id>/current -> versions/<uuid>  the checkpoint, swapped atomically by rename
 *   <base>/<id>/versions/<uuid>/            manifest.json, criu/, rootfs-diff.tar, deleted-files.json, cuda.json
 */
import { realpath } from 'node:fs/promises';
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
    if (!UUID.test(value))
      throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, `"${value}" is not a version uuid`);
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

export function joinInside(root: string, ...parts: string[]): string {
  const path = join(root, ...parts);
  assertInside(root, path);
  return path;
}
