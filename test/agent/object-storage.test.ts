/**
 * The object-storage tier end to end: real agents (real CRIU) uploading to a real S3-protocol server on
 * loopback (s3rver, behind a proxy that fails or holds parts), and restoring on a "new node" — a second
 * agent with an empty local storage and the same bucket.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { PAGE_SIZE, readPagemap } from '../../src/lib/criu/index.js';
import { partsOf, readManifest } from '../../src/lib/storage/index.js';
import {
  type AgentProcess,
  resetCounter,
  stagingEntries,
  startAgent,
  startStatefulWorkload,
  workloadHash,
} from '../helpers/agent-process.js';
import { BUCKET, startObjectStorage, type TestObjectStorage } from '../helpers/object-storage.js';
import { isRunning, readNumber, waitFor } from '../helpers/proc.js';

const PREFIX = 'cluster-a';

/**
 * A part (a chunk) of a page image of the checkpoint at `location` that holds only memory a lazy restore
 * brings after the process runs: no page CRIU restores itself is in it.
 */
async function lazyOnlyPart(location: string): Promise<{ path: string; offset: number; length: number }> {
  const manifest = await readManifest(location);
  for (const { path } of manifest.files) {
    const pid = /^criu\/pagemap-(\d+)\.img$/.exec(path)?.[1];
    if (pid === undefined) continue;
    const pagemap = await readPagemap(join(location, 'criu'), Number(pid));
    const file = manifest.files.find((f) => f.path === `criu/${pagemap.pagesImage}`);
    if (file?.chunkSize === undefined || file.chunks === undefined) continue;
    const parts = partsOf(file);
    const eager = new Set<number>();
    for (const run of pagemap.runs) {
      if (run.lazy || run.offset === undefined) continue;
      const last = Math.floor((run.offset + run.pages * PAGE_SIZE - 1) / file.chunkSize);
      for (let i = Math.floor(run.offset / file.chunkSize); i <= last; i++) eager.add(i);
    }
    const lazyOnly = parts.flatMap((part, i) => (eager.has(i) ? [] : [part]));
    const middle = lazyOnly[Math.floor(lazyOnly.length / 2)];
    if (middle !== undefined) return { path: file.path, ...middle };
  }
  throw new Error(`no part of ${location} holds only lazily restored memory`);
}

describe('agent: checkpoints in object storage (s3rver on loopback)', () => {
  let s3: TestObjectStorage;
  const agents: AgentProcess[] = [];

  /** An agent of its own node, with its own (empty) local storage, on the shared bucket. */
  async function agentOn(node: string, dir?: string): Promise<AgentProcess> {
    const agent = await startAgent({
      node,
      ...(dir === undefined ? {} : { dir }),
      // 5 MiB parts: the workload's 16 MiB of memory goes up in several.
      args: ['--object-storage', `s3://${BUCKET}/${PREFIX}`, '--object-storage-part-size', '5'],
      env: s3.env,
    });
    agents.push(agent);
    return agent;
  }

  const currentVersion = async (id: string) => {
    const got = await s3.client
      .send(new GetObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}/${id}/current` }))
      .catch(() => undefined);
    if (got === undefined) return undefined;
    return (JSON.parse(await got.Body!.transformToString()) as { version: string }).version;
  };

  /** Restores `id` on `agent` after the workload died, and checks its memory came back. */
  async function restoreWithMemory(agent: AgentProcess, id: string, out: string, hash: string) {
    await resetCounter(out);
    const restored = await agent.client.restore({ checkpointId: id });
    const first = await waitFor(
      'the restored counter',
      async () => ((await readNumber(out)) ?? 0) > 0 && readNumber(out),
      20_000,
    );
    assert.ok(first > 2, `the counter resumed at ${first}, not from the start`);
    assert.equal(await workloadHash(out), hash, 'the data in memory is unchanged');
    return restored;
  }

  before(async () => {
    s3 = await startObjectStorage();
  });
  after(async () => {
    for (const agent of agents) await agent.shutdown().catch(() => {});
    await s3.close();
  });

  it('uploads (manifest last) and restores on a new node with the memory intact', async () => {
    const a = await agentOn('node-a');
    const { out, pid } = await startStatefulWorkload(a, 'alpha', 16);
    const hash = await workloadHash(out);
    const result = await a.client.checkpoint({ target: { pod: 'alpha' }, checkpointId: 'alpha-1' });
    assert.ok((result.durationsMs['upload'] ?? -1) >= 0, 'an upload phase is reported');
    assert.equal(await currentVersion('alpha-1'), result.version, 'the bucket names the version');
    assert.deepEqual(s3.openUploads(), [], 'every multipart upload was completed');
    await a.client.stopWorkload({ name: 'alpha' });
    await waitFor('alpha to die', async () => !(await isRunning(pid)));

    const b = await agentOn('node-b');
    const { checkpoints } = await b.client.listCheckpoints({});
    assert.deepEqual(
      checkpoints.map((c) => c.checkpointId),
      ['alpha-1'],
      'the new node lists what the bucket holds',
    );
    const restored = await restoreWithMemory(b, 'alpha-1', out, hash);
    assert.ok((restored.durationsMs['download'] ?? -1) >= 0, 'a download phase is reported');
    assert.equal(
      (await b.client.getCheckpoint({ checkpointId: 'alpha-1' })).location.startsWith('s3://'),
      false,
    );
    await b.client.stopWorkload({ name: 'alpha' });
  });

  it('restores lazily on a new node: runs with a part of its memory still in the bucket, then keeps a local copy', async () => {
    const a = await agentOn('node-lazy-a');
    const { out, pid } = await startStatefulWorkload(a, 'gamma', 96);
    const hash = await workloadHash(out);
    await a.client.checkpoint({ target: { pod: 'gamma' }, checkpointId: 'gamma-1' });
    await a.client.stopWorkload({ name: 'gamma' });
    await waitFor('gamma to die', async () => !(await isRunning(pid)));
    // A part of its memory nothing needs before it runs, found in node A's copy: held in the bucket.
    const { location } = await a.client.getCheckpoint({ checkpointId: 'gamma-1' });
    const held = await lazyOnlyPart(location);
    const range = `bytes=${held.offset}-${held.offset + held.length - 1}`;
    s3.holdGets = (key, asked) => key.endsWith(`/${held.path}`) && asked === range;

    const b = await agentOn('node-lazy-b');
    await resetCounter(out);
    const first = await b.client.restore({ checkpointId: 'gamma-1', lazy: true });
    assert.ok(first.pagesComplete, 'a lazy restore promises a pages-complete result');
    assert.ok(await isRunning(first.restoredPid), 'it runs before that part has left the bucket');
    assert.equal(
      (await b.client.getCheckpoint({ checkpointId: 'gamma-1' })).location.startsWith('s3://'),
      true,
      'a copy still arriving is not the node’s',
    );
    await waitFor('the held part to be asked for', () => s3.heldGets() > 0);
    s3.releaseGets();
    const complete = await first.pagesComplete;
    assert.ok((complete.durationsMs['pagesComplete'] ?? -1) > 0);
    assert.equal(await workloadHash(out), hash, 'every part arrived intact');
    // Every part came and was verified: the copy is the node's now, and a second restore downloads nothing.
    assert.equal(
      (await b.client.getCheckpoint({ checkpointId: 'gamma-1' })).location.startsWith('s3://'),
      false,
    );
    await b.client.stopWorkload({ name: 'gamma' });
    const gets = new Map(s3.rangedGets);
    const again = await b.client.restore({ checkpointId: 'gamma-1', lazy: true });
    await again.pagesComplete;
    assert.deepEqual(s3.rangedGets, gets, 'nothing was downloaded again');
    await b.client.stopWorkload({ name: 'gamma' });
    assert.deepEqual(await stagingEntries(b.storage, 'node-lazy-b'), [], 'nothing is left staged');
  });

  it('fails a checkpoint whose parts the server refuses, naming the object; the previous one stays', async () => {
    const a = agents[0]!;
    const { out, pid } = await startStatefulWorkload(a, 'beta', 16);
    const hash = await workloadHash(out);
    const first = await a.client.checkpoint({ target: { pod: 'beta' }, checkpointId: 'beta-1' });
    s3.parts = 'fail';
    try {
      await assert.rejects(
        a.client.checkpoint({ target: { pod: 'beta' }, checkpointId: 'beta-1', replace: true }),
        (err: Error) => {
          assert.match(err.message, new RegExp(`s3://${BUCKET}/${PREFIX}/beta-1/`));
          assert.match(err.message, /InternalError/);
          return true;
        },
      );
    } finally {
      s3.parts = 'pass';
    }
    assert.ok(s3.interfered > 0, 'the server refused parts');
    assert.equal(await currentVersion('beta-1'), first.version, 'the bucket still names the previous one');
    assert.equal((await a.client.getCheckpoint({ checkpointId: 'beta-1' })).version, first.version);
    assert.deepEqual(s3.openUploads(), [], 'the failed multipart uploads were aborted');
    assert.deepEqual(await stagingEntries(a.storage, 'node-a'), []);
    assert.ok(await isRunning(pid), 'the workload keeps running');
    await a.client.stopWorkload({ name: 'beta' });
    await waitFor('beta to die', async () => !(await isRunning(pid)));
    // On a node that never saw it: the previous checkpoint comes from the bucket, whole.
    const c = await agentOn('node-c');
    await restoreWithMemory(c, 'beta-1', out, hash);
    await c.client.stopWorkload({ name: 'beta' });
  });

  it('fails a checkpoint the full bucket refuses, saying so; the previous one stays, and the next fits again', async () => {
    const a = agents[0]!;
    const { pid } = await startStatefulWorkload(a, 'delta', 16);
    const first = await a.client.checkpoint({ target: { pod: 'delta' }, checkpointId: 'delta-1' });
    s3.parts = 'quota';
    try {
      await assert.rejects(
        a.client.checkpoint({ target: { pod: 'delta' }, checkpointId: 'delta-1', replace: true }),
        (err: Error) => {
          assert.match(err.message, new RegExp(`s3://${BUCKET}/${PREFIX}/delta-1/`));
          assert.match(err.message, /QuotaExceeded \(HTTP 403\)/);
          return true;
        },
      );
    } finally {
      s3.parts = 'pass';
    }
    assert.equal(await currentVersion('delta-1'), first.version, 'the bucket still names the previous one');
    assert.deepEqual(s3.openUploads(), [], 'no multipart upload is left open');
    assert.deepEqual(await stagingEntries(a.storage, 'node-a'), []);
    assert.ok(await isRunning(pid), 'the workload keeps running');
    const again = await a.client.checkpoint({
      target: { pod: 'delta' },
      checkpointId: 'delta-1',
      replace: true,
    });
    assert.equal(
      await currentVersion('delta-1'),
      again.version,
      'with room again, the next one is committed',
    );
    await a.client.stopWorkload({ name: 'delta' });
    await waitFor('delta to die', async () => !(await isRunning(pid)));
  });

  it('never lists an upload its agent died in; the next agent aborts what it left', async () => {
    const a = agents[0]!;
    const { pid } = await startStatefulWorkload(a, 'gamma', 16);
    const first = await a.client.checkpoint({ target: { pod: 'gamma' }, checkpointId: 'gamma-1' });
    s3.parts = 'hold';
    s3.interfered = 0;
    const cut = a.client
      .checkpoint({ target: { pod: 'gamma' }, checkpointId: 'gamma-1', replace: true })
      .catch((err: unknown) => err);
    await waitFor('the agent to be mid-upload', async () => s3.interfered > 0);
    await a.kill();
    await cut;
    s3.parts = 'pass';
    const left = s3.openUploads();
    assert.ok(left.length > 0, 'the killed agent left a multipart upload');
    const b = agents[1]!;
    const listed = (await b.client.listCheckpoints({})).checkpoints.find((c) => c.checkpointId === 'gamma-1');
    assert.equal(listed?.version, first.version, 'only the previous checkpoint is listed');
    assert.equal(await currentVersion('gamma-1'), first.version);

    // The same node's next agent: its recovery aborts what its predecessor left, whatever its age.
    const again = await agentOn('node-a', a.dir);
    assert.deepEqual(s3.openUploads(), [], 'the next agent aborted the upload');
    for (const upload of left) assert.ok(s3.aborted.has(upload.uploadId), upload.key);
    assert.equal((await again.client.getCheckpoint({ checkpointId: 'gamma-1' })).version, first.version);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  });

  it('refuses to restore a checkpoint whose object was corrupted, naming the file', async () => {
    const manifest = JSON.parse(
      await (
        await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}/alpha-1/current` }))
      ).Body!.transformToString(),
    ) as { version: string; files: { path: string; size: number }[] };
    const victim = manifest.files.find((f) => f.path.startsWith('criu/pages-'))!;
    const key = `${PREFIX}/alpha-1/${manifest.version}/${victim.path}`;
    await s3.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.alloc(victim.size, 7) }),
    );
    const d = await agentOn('node-d');
    await assert.rejects(d.client.restore({ checkpointId: 'alpha-1' }), (err: Error & { code?: number }) => {
      assert.match(err.message, new RegExp(`${victim.path}.*different sha256`));
      assert.match(err.message, /FAILED_PRECONDITION|corrupted/);
      return true;
    });
    assert.deepEqual(await stagingEntries(d.storage, 'node-d'), [], 'nothing of it is kept');
    assert.deepEqual((await d.client.listCheckpoints({})).checkpoints.length > 0, true);
    // Lazily, the part CRIU reads itself is fetched and found bad before anything runs.
    await assert.rejects(
      d.client.restore({ checkpointId: 'alpha-1', lazy: true }),
      (err: Error & { phase?: string }) => {
        assert.match(err.message, new RegExp(`${victim.path}.*different sha256`));
        assert.equal(err.phase, 'verify');
        return true;
      },
    );
    assert.deepEqual(await stagingEntries(d.storage, 'node-d'), [], 'nothing of the partial copy is kept');
  });
});
