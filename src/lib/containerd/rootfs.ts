/**
 * The container's root filesystem changes: captured from the overlay upperdir (everything the container
 * wrote) as `rootfs-diff.tar`, with whiteouts (overlayfs' 0:0 character devices) recorded as deletions in
 * `deleted-files.json`; applied to a placeholder's root before CRIU restores files it holds open.
 * Mountpoints and configured exclusions are left out: their contents are not the image's rootfs.
 */
import { lstat, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { writeFileDurably } from '../storage/index.js';
import type { Runner } from '../tools/index.js';

export const ROOTFS_DIFF_FILE = 'rootfs-diff.tar';
export const DELETED_FILES_FILE = 'deleted-files.json';
const TAR_TIMEOUT_MS = 10 * 60_000;

export interface RootfsCaptureInput {
  upperDir: string;
  /**
   * The image's layers (overlay lowerdirs) and the container's merged root (/proc/PID/root): an entry of a
   * layer that the merged view no longer shows was deleted (a whiteout, or a folder replaced whole — an
   * opaque folder, whose marker is an xattr the placeholder's overlay cannot take), and is recorded so.
   */
  lowerDirs?: readonly string[];
  mergedRoot?: string;
  /** Absolute paths inside the container left out with everything beneath them. */
  exclude: readonly string[];
  /** The staging dir of the checkpoint: the two files are written there. */
  dir: string;
  run: Runner;
  signal?: AbortSignal;
}

export interface DeletedFiles {
  version: 1;
  /** Absolute paths inside the container that the workload deleted from the image. */
  deleted: string[];
}

/** Writes the diff and the deletions into `dir`; returns their size in bytes. */
export async function captureRootfsDiff(input: RootfsCaptureInput): Promise<number> {
  const excluded = (path: string) =>
    input.exclude.some((e) => path === e || path.startsWith(`${e.replace(/\/$/, '')}/`));
  const members: string[] = [];
  const deleted: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(input.upperDir, rel), { withFileTypes: true });
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (excluded(`/${child}`)) continue;
      if (entry.isCharacterDevice() && (await lstat(join(input.upperDir, child))).rdev === 0) {
        deleted.push(`/${child}`);
        continue;
      }
      members.push(child);
      if (entry.isDirectory()) {
        deleted.push(...(await hiddenEntries(input, child, excluded)));
        await walk(child);
      }
    }
  };
  deleted.push(...(await hiddenEntries(input, '', excluded)));
  await walk('');
  const tarFile = join(input.dir, ROOTFS_DIFF_FILE);
  // GNU tar, members named relative to the upperdir; --no-recursion: the walk chose every member.
  await input.run(
    'tar',
    [
      '--create',
      '--file',
      tarFile,
      '--directory',
      input.upperDir,
      '--no-recursion',
      '--null',
      '--files-from=-',
      '--numeric-owner',
      '--xattrs',
    ],
    {
      input: members.map((m) => `${m}\0`).join(''),
      timeoutMs: TAR_TIMEOUT_MS,
      failureCode: ErrorCode.INTERNAL,
      ...signalOption(input.signal),
    },
  );
  const record: DeletedFiles = { version: 1, deleted: [...new Set(deleted)].sort() };
  const deletedFile = join(input.dir, DELETED_FILES_FILE);
  await writeFileDurably(deletedFile, `${JSON.stringify(record, null, 2)}\n`);
  return (await stat(tarFile)).size + (await stat(deletedFile)).size;
}

/**
 * Entries of `rel` (a folder of the upperdir) that some image layer has and the merged view does not show:
 * the container deleted them. Whiteouts are among them; a folder made opaque hides all of its layers'.
 */
async function hiddenEntries(
  input: RootfsCaptureInput,
  rel: string,
  excluded: (path: string) => boolean,
): Promise<string[]> {
  if (input.lowerDirs === undefined || input.mergedRoot === undefined) return [];
  const visible = new Set(await readdir(join(input.mergedRoot, rel)).catch(() => [] as string[]));
  const hidden = new Set<string>();
  for (const lower of input.lowerDirs) {
    for (const name of await readdir(join(lower, rel)).catch(() => [] as string[])) {
      const path = rel === '' ? `/${name}` : `/${rel}/${name}`;
      if (!visible.has(name) && !excluded(path)) hidden.add(path);
    }
  }
  return [...hidden];
}

export interface RootfsApplyInput {
  /** The checkpoint version dir holding the two files (absent files: nothing to apply). */
  checkpointDir: string;
  /** The placeholder's root as this host sees it: `/proc/PID/root`. */
  root: string;
  run: Runner;
  signal?: AbortSignal;
}

/** Deletes what the workload deleted, then extracts the diff over the placeholder's root. */
export async function applyRootfsDiff(input: RootfsApplyInput): Promise<{ files: number; deleted: number }> {
  const deletions = await readDeletions(join(input.checkpointDir, DELETED_FILES_FILE));
  let removed = 0;
  for (const path of deletions) {
    const target = await resolveBeneath(input.root, path);
    if (target === undefined) continue;
    await rm(target, { recursive: true, force: true });
    removed++;
  }
  const tarFile = join(input.checkpointDir, ROOTFS_DIFF_FILE);
  if (
    !(await stat(tarFile).then(
      () => true,
      () => false,
    ))
  )
    return { files: 0, deleted: removed };
  // GNU tar refuses `..` and absolute member names, and creates symlinks from the archive only after the
  // files, so extracting cannot be led outside the root by the archive itself.
  const result = await input.run(
    'tar',
    [
      '--extract',
      '--file',
      tarFile,
      '--directory',
      input.root,
      '--numeric-owner',
      '--same-owner',
      '--preserve-permissions',
      '--xattrs',
      '--verbose',
    ],
    { timeoutMs: TAR_TIMEOUT_MS, failureCode: ErrorCode.INTERNAL, ...signalOption(input.signal) },
  );
  return { files: result.stdout.split('\n').filter(Boolean).length, deleted: removed };
}

async function readDeletions(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  const record = JSON.parse(text) as Partial<DeletedFiles>;
  if (record.version !== 1 || !Array.isArray(record.deleted)) {
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `${file} is not a deleted-files record of version 1`,
    );
  }
  return record.deleted.filter((p): p is string => typeof p === 'string');
}

/**
 * `root` + `path`, walked one component at a time without following symlinks (an absolute link would
 * resolve against this host's root, not the container's); undefined when a component is missing or a
 * link, or the path leaves the root.
 */
async function resolveBeneath(root: string, path: string): Promise<string | undefined> {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.includes('..')) return undefined;
  let current = root;
  for (const [i, part] of parts.entries()) {
    current = join(current, part);
    const info = await lstat(current).catch(() => undefined);
    if (info === undefined) return undefined;
    if (i < parts.length - 1 && !info.isDirectory()) return undefined;
  }
  return current;
}

function signalOption(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}
