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
import { link, mkdir, readFile, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
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
      const holder = await readLock(file);
      if (holder === undefined) continue; // released in between
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
  await writeFile(unique, JSON.stringify(record), { mode: 0o600 });
  try {
    await link(unique, file).catch(() => {});
    return (await stat(unique)).nlink === 2;
  } finally {
    await unlink(unique).catch(() => {});
  }
}

async function readLock(file: string): Promise<LockRecord | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LockRecord;
  } catch {
    return undefined;
  }
}

function heldLock(file: string, token: string): HeldLock {
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      if ((await readLock(file))?.token === token) await unlink(file).catch(() => {});
    },
  };
}

/** Removes the lock if it is still the dead holder's, under an mkdir guard so two breakers never race. */
async function breakLock(file: string, deadToken: string): Promise<void> {
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
