/**
 * Which agents sharing a checkpoint volume are alive. Each agent holds `<base>/tmp/<owner>.lease`
 * (owner = its node name), renewed by a heartbeat. What an agent leaves on the volume — its staging, an id
 * lock, a reader lease — names the agent instance that holds it, and is somebody else's to collect only
 * once that instance is dead: its lease expired (a node that is gone), or, seen from the same machine, its
 * process is gone (an agent restarted on its own node takes over at once). A newcomer's start alone never
 * makes anything collectable.
 *
 * Expiry compares the holder's `renewedAt` with this agent's clock: nodes are assumed to keep time (NTP),
 * and the TTL (30 s by default) is far above any skew NTP leaves.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { isSameProcess, startTimeOf } from '../procfs/index.js';
import { writeFileDurably } from './durable.js';
import type { StoragePaths } from './paths.js';

/** Who holds something on the volume: an agent (owner) and the one run of it (instance). */
export interface Holder {
  owner: string;
  instance: string;
}

interface LeaseRecord extends Holder {
  /** The machine's boot and pid namespace: where both match ours, `pid` can be checked directly. */
  boot: string;
  pidNamespace: string;
  pid: number;
  startTime: number | undefined;
  renewedAt: string;
  ttlMs: number;
}

export interface AgentLease extends Holder {
  /**
   * Whether this agent's lease is surely still in force (renewed within the TTL): before it publishes,
   * an agent checks it, since others take a lapsed lease for a dead agent and may have taken its locks.
   */
  valid(): boolean;
  /** Whether the agent instance `holder` names is alive (this one always is). */
  isAlive(holder: Holder): Promise<boolean>;
  /** Whether the lease file at `file` (an owner's, or one claimed for collection) names a live instance. */
  leaseFileAlive(file: string): Promise<boolean>;
  /** Stops the heartbeat and removes the lease (a graceful stop: what it held is free at once). */
  release(): Promise<void>;
}

export interface AgentLeaseOptions {
  paths: StoragePaths;
  owner: string;
  ttlMs: number;
  /** Told when a renewal fails or the lease was taken over; the heartbeat goes on. */
  onProblem?: (message: string, err?: unknown) => void;
  now?: () => number;
}

/**
 * Takes the owner's lease. A lease of the same owner held by another live instance (a second agent given
 * the same node name, or a predecessor still stopping) is waited for up to two TTLs, then refused.
 */
export async function acquireAgentLease(options: AgentLeaseOptions): Promise<AgentLease> {
  const { paths, owner, ttlMs } = options;
  const now = options.now ?? Date.now;
  const here = await machineIdentity();
  const file = paths.agentLease(owner);
  const instance = randomUUID();
  const alive = (record: LeaseRecord) => recordAlive(record, here, now());

  const giveUpAt = now() + 2 * ttlMs;
  for (let waited = false; ; waited = true) {
    const existing = await readLease(file).catch(() => undefined);
    if (existing === undefined || !(await alive(existing))) break;
    if (!waited)
      options.onProblem?.(
        `waiting for the storage lease of node ${owner}: instance ${existing.instance} (pid ${existing.pid}) still renews it`,
      );
    if (now() > giveUpAt) {
      throw new SnapbackError(
        ErrorCode.FAILED_PRECONDITION,
        `another agent (instance ${existing.instance}, pid ${existing.pid}) holds the storage lease of node ${owner} and keeps renewing it: give every agent sharing ${paths.base} its own node name`,
      );
    }
    await sleep(Math.min(1000, ttlMs / 4));
  }

  let renewedAt = now();
  const write = async () => {
    const at = now();
    const record: LeaseRecord = {
      owner,
      instance,
      ...here,
      pid: process.pid,
      startTime: await startTimeOf(process.pid),
      renewedAt: new Date(at).toISOString(),
      ttlMs,
    };
    await mkdir(paths.stagingBase, { recursive: true, mode: 0o700 });
    await writeFileDurably(file, JSON.stringify(record));
    renewedAt = at;
  };
  await write();
  let released = false;
  let renewing: Promise<void> | undefined;
  const renew = async () => {
    const current = await readLease(file).catch(() => 'unreadable' as const);
    if (current === 'unreadable') return; // next time: an unreadable file is no reason to write over it
    if (current !== undefined && current.instance !== instance) {
      options.onProblem?.(
        `the storage lease of node ${owner} was taken over by instance ${current.instance}; two agents share one node name`,
      );
      return;
    }
    // Gone while this agent counted as dead (renewals failed past the TTL): others may have collected its
    // staging or broken its locks meanwhile. It takes the lease again; `valid()` has already said no.
    if (current === undefined && now() - renewedAt > ttlMs)
      options.onProblem?.(`the storage lease of node ${owner} had lapsed; taking it again`);
    await write();
  };
  // A timer, not a loop: an agent stalled longer than the TTL is rightly taken for dead. A renewal still
  // under way (a slow volume) is not doubled.
  const heartbeat = setInterval(
    () => {
      if (released || renewing !== undefined) return;
      renewing = renew()
        .catch((err: unknown) => options.onProblem?.('cannot renew the storage lease', err))
        .finally(() => {
          renewing = undefined;
        });
    },
    Math.max(50, Math.floor(ttlMs / 3)),
  );
  heartbeat.unref();

  /** The lease of `owner`, under its name or — while a collector has claimed it — under the claim's. */
  const ownerLease = async (other: string): Promise<LeaseRecord | undefined> => {
    const record = await readLease(paths.agentLease(other));
    if (record !== undefined) return record;
    const claimPrefix = `.${other}.lease.collecting-`;
    for (const name of await readdir(paths.stagingBase).catch(() => [] as string[])) {
      if (name.startsWith(claimPrefix)) return readLease(join(paths.stagingBase, name));
    }
    return undefined;
  };
  // Any doubt (a lease that cannot be read) is read as alive: taking a live agent for dead deletes its work.
  const aliveOr = (check: () => Promise<boolean>) => check().catch(() => true);

  return {
    owner,
    instance,
    valid: () => !released && now() - renewedAt < ttlMs,
    isAlive: (holder) =>
      holder.instance === instance
        ? Promise.resolve(true)
        : aliveOr(async () => {
            const record = await ownerLease(holder.owner);
            return record !== undefined && record.instance === holder.instance && (await alive(record));
          }),
    leaseFileAlive: (path) =>
      aliveOr(async () => {
        const record = await readLease(path);
        return record !== undefined && (record.instance === instance || (await alive(record)));
      }),
    async release() {
      released = true;
      clearInterval(heartbeat);
      await renewing;
      const current = await readLease(file).catch(() => undefined);
      if (current?.instance === instance) await rm(file, { force: true });
    },
  };
}

async function recordAlive(
  record: LeaseRecord,
  here: { boot: string; pidNamespace: string },
  now: number,
): Promise<boolean> {
  const renewed = Date.parse(record.renewedAt);
  if (!Number.isFinite(renewed) || renewed + record.ttlMs < now) return false;
  if (record.boot !== here.boot || record.pidNamespace !== here.pidNamespace) return true;
  // Same machine, same pid namespace: the process itself says whether that instance still runs.
  return isSameProcess(record.pid, record.startTime);
}

/** The lease at `file`; undefined when there is none (or it is not a lease); throws when it cannot be read. */
async function readLease(file: string): Promise<LeaseRecord | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const record = JSON.parse(text) as Partial<LeaseRecord>;
    if (typeof record.owner !== 'string' || typeof record.instance !== 'string') return undefined;
    if (typeof record.renewedAt !== 'string' || typeof record.ttlMs !== 'number') return undefined;
    return record as LeaseRecord;
  } catch {
    return undefined; // written whole by rename: what does not parse was never a lease
  }
}

async function machineIdentity(): Promise<{ boot: string; pidNamespace: string }> {
  const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
  const pidNamespace = await readlink('/proc/self/ns/pid').catch(() => '');
  return { boot, pidNamespace };
}
