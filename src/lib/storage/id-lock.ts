/**
 * One writer per checkpoint id across every agent sharing the volume: `<base>/tmp/.locks/<id>.lock`.
 *
 * Why a lock file on the volume, and this way: the volume is the one thing every agent that may write the
 * id shares (a Kubernetes Lease would need the functions, or API access from every agent, in the path of a
 * checkpoint racing a 30 s notice). It is taken by link(2) of a uniquely named file onto the lock's name,
 * then checking that the unique file's link count became 2 — open(2)'s documented way to lock on NFS,
 * where O_EXCL is not reliable everywhere and a retried link can answer EEXIST although it succeeded.
 * mkdir(2) is atomic on NFS too, which guards the rare breaking of a lock whose holder died.
 */
import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readFile, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ErrorCode, SnapbackError } from '../../errors.js';
import type { AgentLease, Holder } from './agent-lease.js';
import { assertRealFolder, ensureFolder, type StoragePaths } from './paths.js';

interface LockRecord extends Holder {
  purpose: string;
  at: string;
  /** Tells this taking of the lock from any other, so that a release or a break removes only it. */
  token: string;
}

/** A held lock; `release` is idempotent and removes the lock only if it is still this one. */
export interface HeldLock {
  /** Whether the lock file still is this lock (another agent breaks it if it takes this one for dead). */
  stillHeld(): Promise<boolean>;
  release(): Promise<void>;
}

export interface IdLocks {
  /** Takes the id's lock, or throws ALREADY_EXISTS naming the live agent that holds it. */
  acquire(id: string, purpose: string): Promise<HeldLock>;
  /** Takes the id's lock if nobody alive holds it; undefined otherwise. */
  tryAcquire(id: string, purpose: string): Promise<HeldLock | undefined>;
}

/** A breaker that died mid-break leaves its mkdir guard behind; after this long it is removed. */
const STALE_BREAK_MS = 60_000;

export function createIdLocks(paths: StoragePaths, lease: AgentLease): IdLocks {
  const tryAcquire = async (id: string, purpose: string): Promise<HeldLock | LockRecord> => {
    const file = paths.idLock(id);
    await assertRealFolder(paths.stagingBase);
    await ensureFolder(dirname(file));
    for (let attempt = 0; attempt < 2; attempt++) {
      const record: LockRecord = {
        owner: lease.owner,
        instance: lease.instance,
        purpose,
        at: new Date().toISOString(),
        token: randomUUID(),
      };
      if (await linkLock(file, record)) return heldLock(file, record.token);
      const holder = await readLockFile(file);
      if (holder === undefined) continue; // released in between
      if (holder === 'corrupt') {
        // A lock that names no holder (its writer died before its data reached the disk) is broken once
        // it is old enough that no writer can still be at it.
        const age = Date.now() - ((await stat(file).catch(() => undefined))?.mtimeMs ?? Date.now());
        if (age > STALE_BREAK_MS) await breakLock(file, undefined);
        continue;
      }
      if (await lease.isAlive(holder)) return holder;
      await breakLock(file, holder.token);
    }
    const holder = await readLock(file);
    if (holder !== undefined) return holder;
    throw new SnapbackError(ErrorCode.ABORTED, `could not take the lock of checkpoint ${id}; try again`);
  };
  return {
    async acquire(id, purpose) {
      const outcome = await tryAcquire(id, purpose);
      if ('release' in outcome) return outcome;
      throw new SnapbackError(
        ErrorCode.ALREADY_EXISTS,
        `checkpoint ${id} is being written by the agent of node ${outcome.owner} (${outcome.purpose} since ${outcome.at}); try again once it has finished`,
        { details: [{ field: 'checkpointId', message: `locked by node ${outcome.owner}` }] },
      );
    },
    async tryAcquire(id, purpose) {
      const outcome = await tryAcquire(id, purpose);
      return 'release' in outcome ? outcome : undefined;
    },
  };
}

async function linkLock(file: string, record: LockRecord): Promise<boolean> {
  const unique = `${file}.${record.token}`;
  // On the disk before it becomes the lock: a lock that outlives a crash must say whose it is.
  const handle = await open(unique, 'wx', 0o600);
  try {
    await handle.writeFile(JSON.stringify(record));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(unique, file).catch(() => {});
    return (await stat(unique)).nlink === 2;
  } finally {
    await unlink(unique).catch(() => {});
  }
}

/** The lock at `file`: undefined when there is none; `corrupt` when it says no holder; throws when unreadable. */
async function readLockFile(file: string): Promise<LockRecord | 'corrupt' | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const record = JSON.parse(text) as Partial<LockRecord>;
    return typeof record.token === 'string' && typeof record.instance === 'string'
      ? (record as LockRecord)
      : 'corrupt';
  } catch {
    return 'corrupt';
  }
}

async function readLock(file: string): Promise<LockRecord | undefined> {
  const lock = await readLockFile(file);
  return lock === 'corrupt' ? undefined : lock;
}

function heldLock(file: string, token: string): HeldLock {
  let released = false;
  return {
    stillHeld: async () => !released && (await readLock(file))?.token === token,
    async release() {
      if (released) return;
      released = true;
      if ((await readLock(file))?.token === token) await unlink(file).catch(() => {});
    },
  };
}

/**
 * Removes the lock if it is still the dead holder's (or still unreadable, for `undefined`), under an mkdir
 * guard so two breakers never race.
 */
async function breakLock(file: string, deadToken: string | undefined): Promise<void> {
  const guard = `${file}.break`;
  try {
    await mkdir(guard);
  } catch {
    const age = Date.now() - ((await stat(guard).catch(() => undefined))?.mtimeMs ?? Date.now());
    if (age > STALE_BREAK_MS) await rmdir(guard).catch(() => {});
    return;
  }
  try {
    if ((await readLock(file))?.token === deadToken) await unlink(file).catch(() => {});
  } finally {
    await rmdir(guard).catch(() => {});
  }
}
