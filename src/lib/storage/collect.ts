/**
 * Collecting what nobody will finish: versions of a checkpoint that are neither current nor read (left by a
 * promotion that died, or retired while a restore read them), and the staging of agents that are gone.
 * Versions are collected only under the id's lock, so never in the middle of another agent's promotion;
 * another agent's staging only once its lease says that agent is dead.
 */
import { link, lstat, readdir, readlink, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ErrorCode, SnapbackError } from '../../errors.js';
import type { AgentLease } from './agent-lease.js';
import {
  assertRealFolder,
  CURRENT_LINK,
  isVersionUuid,
  LOCKS_DIR,
  ownerOfLeaseFile,
  ownerProblem,
  type StoragePaths,
  VERSIONS_DIR,
} from './paths.js';
import type { ReaderLeases } from './readers.js';

/** The version uuid `current` points at; a link pointing anywhere but versions/<uuid> is refused. */
export async function currentVersion(paths: StoragePaths, id: string): Promise<string | undefined> {
  let target: string;
  try {
    target = await readlink(paths.current(id));
  } catch (err) {
    // Only "there is none" means none: any other error (EIO, ESTALE, a `current` that is no link) must
    // never read as an id with no checkpoint, which collection would then remove.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SnapbackError(ErrorCode.UNAVAILABLE, `cannot read checkpoint ${id}'s current version`, {
      cause: err,
    });
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

/**
 * The caller holds the id's lock. Removes every version that is not current and that no live restore reads,
 * the links a promotion left half-made, and the whole id when nothing of it is current or read.
 */
export async function collectVersions(
  paths: StoragePaths,
  readers: ReaderLeases,
  id: string,
): Promise<string[]> {
  // A `current` that points outside its versions is left alone (and refused on every read): it is not
  // snapback's doing, and deleting what someone planted could delete what they pointed at.
  const current = await currentVersion(paths, id).catch(() => null);
  if (current === null) return [];
  const removed: string[] = [];
  const checkpointDir = paths.checkpoint(id);
  for (const entry of await readdir(checkpointDir).catch(() => [] as string[])) {
    if (entry.startsWith(`.${CURRENT_LINK}-`)) {
      await rm(join(checkpointDir, entry), { force: true });
      removed.push(join(checkpointDir, entry));
    }
  }
  const versionsDir = join(checkpointDir, VERSIONS_DIR);
  // Likewise a versions/ planted as a link is left alone (every read refuses it).
  if (
    !(await assertRealFolder(versionsDir).then(
      () => true,
      () => false,
    ))
  )
    return removed;
  const read = new Set((await readers.live(id)).map((r) => r.version));
  let kept = 0;
  for (const version of await readdir(versionsDir).catch(() => [] as string[])) {
    if (version === current || read.has(version)) {
      kept++;
      continue;
    }
    await rm(join(versionsDir, version), { recursive: true, force: true });
    removed.push(join(versionsDir, version));
  }
  if (current === undefined && kept === 0 && (await lstat(checkpointDir).catch(() => undefined))) {
    await rm(checkpointDir, { recursive: true, force: true });
    removed.push(checkpointDir);
  }
  return removed;
}

/**
 * Removes the staging of agents whose lease has expired (or that have none left): a lease is claimed by
 * renaming it first, so two collectors never both act, and checked again after the claim — the claimed
 * file, and a lease file its agent may have written since — in case it renewed (then it is put back).
 */
export async function collectDeadOwners(paths: StoragePaths, lease: AgentLease): Promise<string[]> {
  const removed: string[] = [];
  const entries = await readdir(paths.stagingBase, { withFileTypes: true }).catch(() => []);
  const withLease = new Set<string>();
  // A lease under another collector's claim still counts: that collector may yet find it alive.
  for (const entry of entries) {
    const claimed = /^\.(.+)\.lease\.collecting-/.exec(entry.name)?.[1];
    if (claimed !== undefined) withLease.add(claimed);
  }
  for (const entry of entries) {
    const owner = ownerOfLeaseFile(entry.name);
    if (owner === undefined || owner === lease.owner) continue;
    withLease.add(owner);
    const file = paths.agentLease(owner);
    if (await lease.leaseFileAlive(file)) continue;
    const claim = join(paths.stagingBase, `.${entry.name}.collecting-${lease.instance}`);
    if (
      !(await rename(file, claim).then(
        () => true,
        () => false,
      ))
    )
      continue;
    if ((await lease.leaseFileAlive(claim)) || (await lease.leaseFileAlive(file))) {
      await link(claim, file).catch(() => {});
      await rm(claim, { force: true });
      continue;
    }
    await rm(paths.stagingRoot(owner), { recursive: true, force: true });
    await rm(claim, { force: true });
    removed.push(paths.stagingRoot(owner));
  }
  // A staging folder with no lease at all: its agent's lease was collected, or it predates leases.
  // An agent writes its lease before it stages anything, so no live agent's staging is without one.
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name === LOCKS_DIR || entry.name === lease.owner) continue;
    if (withLease.has(entry.name)) continue;
    if (ownerProblem(entry.name) !== undefined && !isVersionUuid(entry.name)) continue;
    await rm(join(paths.stagingBase, entry.name), { recursive: true, force: true });
    removed.push(join(paths.stagingBase, entry.name));
  }
  return removed;
}
