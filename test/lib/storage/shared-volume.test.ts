/**
 * Agents sharing one checkpoint volume, at the store's level: three stores (three nodes' agents) on one
 * folder. A newcomer never sweeps what a live agent stages; a dead agent's leftovers are collected once its
 * lease says it is dead; one writer per id; a version read by one agent's restore outlives its replacement
 * by another's checkpoint; a checkpoint whose staged files vanished is never published.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  type CheckpointStore,
  createCheckpointStore,
  readManifest,
  verifyFiles,
} from '../../../src/lib/storage/index.js';
import { refusedAs } from '../../helpers/refused.js';
import { stageCheckpoint, takeCheckpoint } from '../../helpers/stored-checkpoint.js';

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/**
 * A lease as an agent elsewhere writes it (the on-disk contract): on another machine, judged by its age;
 * on this machine, judged by its process (`pid` not running = dead).
 */
async function plantLease(
  base: string,
  owner: string,
  lease: { renewedAt: Date; sameMachine?: { pid: number } },
): Promise<string> {
  const instance = randomUUID();
  const here = lease.sameMachine
    ? {
        boot: (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim(),
        pidNamespace: await import('node:fs/promises').then((fs) => fs.readlink('/proc/self/ns/pid')),
        pid: lease.sameMachine.pid,
      }
    : { boot: 'another-machine', pidNamespace: 'pid:[4026531836]', pid: 4242 };
  await mkdir(join(base, 'tmp'), { recursive: true });
  await writeFile(
    join(base, 'tmp', `${owner}.lease`),
    JSON.stringify({
      owner,
      instance,
      ...here,
      startTime: 1,
      renewedAt: lease.renewedAt.toISOString(),
      ttlMs: 30_000,
    }),
  );
  return instance;
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const { spawn } = await import('node:child_process');
  const child = spawn('true');
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('agents sharing one checkpoint volume (store level)', () => {
  let dir: string;
  let base: string;
  const open: CheckpointStore[] = [];
  const agentOn = async (owner: string) => {
    const store = createCheckpointStore(base, { owner, leaseTtlMs: 30_000 });
    await store.init();
    open.push(store);
    return store;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapback-shared-'));
  });
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
    await rm(join(dir, 'volume'), { recursive: true, force: true });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('a newcomer never sweeps or collects what a live agent stages', async () => {
    base = join(dir, 'volume');
    const a = await agentOn('node-a');
    const staging = await stageCheckpoint(a, 'busy');
    const b = await agentOn('node-b');
    assert.ok(await exists(join(staging.dir, 'criu', 'pages-1.img')), 'node-b swept node-a staging at start');
    assert.deepEqual(await b.collect(), []);
    const c = await agentOn('node-c');
    await c.collect();
    const version = await a.promote('busy', staging);
    await verifyFiles(version, await readManifest(version));
  });

  it("a dead agent's staging is collected once its lease has expired, or its process is gone", async () => {
    base = join(dir, 'volume');
    await plantLease(base, 'gone-expired', { renewedAt: new Date(Date.now() - 120_000) });
    await plantLease(base, 'gone-process', { renewedAt: new Date(), sameMachine: { pid: await deadPid() } });
    await plantLease(base, 'alive-elsewhere', { renewedAt: new Date() });
    for (const owner of ['gone-expired', 'gone-process', 'alive-elsewhere'])
      await mkdir(join(base, 'tmp', owner, randomUUID()), { recursive: true });
    const b = await agentOn('node-b');
    const left = (await readdir(join(base, 'tmp'))).filter((e) => !e.startsWith('.')).sort();
    assert.deepEqual(left, ['alive-elsewhere', 'alive-elsewhere.lease', 'node-b', 'node-b.lease']);
    assert.deepEqual(await b.collect(), [], 'a live agent elsewhere is left alone, however often collected');
  });

  it('one writer per id: a second agent gets ALREADY_EXISTS naming the first, and the lock once it is free', async () => {
    base = join(dir, 'volume');
    const a = await agentOn('node-a');
    const b = await agentOn('node-b');
    const lock = await a.beginWrite('contested', 'checkpoint');
    await assert.rejects(
      b.beginWrite('contested', 'checkpoint'),
      refusedAs('ALREADY_EXISTS', /contested is being written by the agent of node node-a/),
    );
    await lock.promote(await stageCheckpoint(a, 'contested', 'from a'));
    await assert.rejects(b.remove('contested'), refusedAs('ALREADY_EXISTS', /node node-a/));
    await lock.release();
    const again = await b.beginWrite('contested', 'checkpoint');
    await again.release();
  });

  it("a lock whose holder died is broken; a live holder's never is", async () => {
    base = join(dir, 'volume');
    const b = await agentOn('node-b');
    const instance = await plantLease(base, 'gone', { renewedAt: new Date(Date.now() - 120_000) });
    const lockFile = join(base, 'tmp', '.locks', 'orphaned.lock');
    await mkdir(join(base, 'tmp', '.locks'), { recursive: true });
    const record = {
      owner: 'gone',
      instance,
      purpose: 'checkpoint',
      at: new Date().toISOString(),
      token: randomUUID(),
    };
    await writeFile(lockFile, JSON.stringify(record));
    const lock = await b.beginWrite('orphaned', 'checkpoint');
    await lock.release();
    assert.equal(await exists(lockFile), false);

    const liveInstance = await plantLease(base, 'elsewhere', { renewedAt: new Date() });
    await writeFile(lockFile, JSON.stringify({ ...record, owner: 'elsewhere', instance: liveInstance }));
    await assert.rejects(
      b.beginWrite('orphaned', 'checkpoint'),
      refusedAs('ALREADY_EXISTS', /node elsewhere/),
    );
  });

  it('a checkpoint whose staged files vanished is not published, naming the file; the previous one stays', async () => {
    base = join(dir, 'volume');
    const a = await agentOn('node-a');
    const previous = await takeCheckpoint(a, 'big-2', 'the previous one');
    const staging = await stageCheckpoint(a, 'big-2', 'the next one');
    await rm(join(staging.dir, 'criu', 'pages-1.img'));
    await assert.rejects(a.promote('big-2', staging), refusedAs('ABORTED', /criu\/pages-1\.img is missing/));
    const current = (await a.get('big-2'))!;
    assert.equal(current.dir, previous);
    await verifyFiles(current.dir, current.manifest);
  });

  it("a version read by one agent's restore outlives its replacement by another's checkpoint", async () => {
    base = join(dir, 'volume');
    const a = await agentOn('node-a');
    const b = await agentOn('node-b');
    const first = await takeCheckpoint(a, 'shared', 'first');
    const reading = await b.openForReading('shared');
    assert.equal(reading.dir, first);
    const second = await takeCheckpoint(a, 'shared', 'second');
    assert.equal((await a.currentDir('shared'))!, second);
    assert.equal(await readFile(join(first, 'criu', 'pages-1.img'), 'utf8'), 'first', 'kept while read');
    await assert.rejects(
      a.remove('shared'),
      refusedAs('FAILED_PRECONDITION', /on node node-b\) is still reading it/),
    );
    await reading.release();
    assert.equal(await exists(first), false, 'collected once the read is over');
    assert.ok(await exists(second));
    assert.equal(await a.remove('shared'), true);
  });

  it("a dead agent's reader lease neither blocks a delete nor keeps a version", async () => {
    base = join(dir, 'volume');
    const a = await agentOn('node-a');
    const first = await takeCheckpoint(a, 'stale-read', 'first');
    const version = first.split('/').pop()!;
    const instance = await plantLease(base, 'gone', { renewedAt: new Date(Date.now() - 120_000) });
    await mkdir(join(base, 'stale-read', 'readers'), { recursive: true });
    await writeFile(
      join(base, 'stale-read', 'readers', `${version}--${randomUUID()}.json`),
      JSON.stringify({ owner: 'gone', instance, version, at: new Date().toISOString() }),
    );
    await takeCheckpoint(a, 'stale-read', 'second');
    assert.equal(await exists(first), false);
    assert.equal(await a.remove('stale-read'), true);
  });
});
