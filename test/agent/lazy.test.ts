/**
 * Lazy restore with real CRIU lazy pages (userfaultfd): the process runs before its memory has arrived,
 * its data is intact once every page is in, the checkpoint cannot be replaced or deleted meanwhile, and a
 * broken transfer — or a page image that does not match the manifest — kills the restored process instead
 * of leaving it to fault on missing memory or run on corrupted memory.
 */
import assert from 'node:assert/strict';
import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { restore } from '../../src/executor/restore.js';
import { readPagemap } from '../../src/lib/criu/index.js';
import { CHUNK_SIZE, readManifest } from '../../src/lib/storage/index.js';
import { silentLogger } from '../../src/log.js';
import {
  type AgentProcess,
  python,
  startAgent,
  workloadHash,
  workloadScript,
} from '../helpers/agent-process.js';
import { isRunning, readNumber, waitFor } from '../helpers/proc.js';

/** Runs `body` with the byte at `offset` of `path` flipped, then puts it back. */
async function corrupt(path: string, offset: number, body: () => Promise<void>): Promise<void> {
  const handle = await open(path, 'r+');
  const original = Buffer.alloc(1);
  await handle.read(original, 0, 1, offset);
  await handle.write(Buffer.from([original[0]! ^ 0xff]), 0, 1, offset);
  try {
    await body();
  } finally {
    await handle.write(original, 0, 1, offset);
    await handle.close();
  }
}

/** The agent's `criu lazy-pages` child, found through /proc. */
async function lazyPagesDaemonOf(agentPid: number): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid !== agentPid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').includes('lazy-pages')) return Number(entry);
  }
  return undefined;
}

describe('lazy restore (real CRIU lazy pages)', () => {
  let agent: AgentProcess;
  let out: string;
  let hash: string;
  let location: string;

  before(async () => {
    agent = await startAgent();
    out = join(agent.dir, 'big.counter');
    const w = await agent.client.startWorkload({
      name: 'big',
      command: [python, workloadScript, '512', out],
    });
    await waitFor('big to count', async () => ((await readNumber(out)) ?? 0) > 2, 60_000);
    hash = await workloadHash(out);
    ({ location } = await agent.client.checkpoint({
      target: { pod: 'big' },
      checkpointId: 'big-1',
      leaveRunning: false,
    }));
    await waitFor('big to stop', async () => !(await isRunning(w.pid)));
  });
  after(() => agent.shutdown());

  it('runs the process at once, keeps the checkpoint while pages arrive, and ends with intact memory', async () => {
    const info = await agent.client.getInfo({});
    assert.equal(info.lazyPages, true, 'this kernel has userfaultfd');
    const last = (await readNumber(out))!;
    const first = await agent.client.restore({
      checkpointId: 'big-1',
      target: { pod: 'big-lazy' },
      lazy: true,
    });
    assert.ok(first.pagesComplete, 'a lazy restore promises a pages-complete result');
    assert.ok((first.durationsMs['firstRun'] ?? -1) > 0, JSON.stringify(first.durationsMs));
    assert.equal(
      first.durationsMs['pagesComplete'],
      undefined,
      'the first result comes before every page is in',
    );
    await assert.rejects(
      agent.client.deleteCheckpoint({ checkpointId: 'big-1' }),
      (err: Error & { code: string }) => {
        assert.equal(err.code, 'FAILED_PRECONDITION');
        assert.match(err.message, /a restore \(on node test-node\) is still reading it/);
        return true;
      },
    );
    const complete = await first.pagesComplete;
    const pagesComplete = complete.durationsMs['pagesComplete']!;
    assert.ok(
      pagesComplete >= first.durationsMs['firstRun']!,
      `${pagesComplete} after ${first.durationsMs['firstRun']}`,
    );
    assert.ok(await isRunning(first.restoredPid));
    const counter = await waitFor('the counter to advance', async () => {
      const n = await readNumber(out);
      return n !== undefined && n > last && n;
    });
    assert.ok(counter > last);
    assert.equal(await workloadHash(out), hash, 'every page arrived intact');
    // Once every page is in, the checkpoint may be replaced or deleted again.
    const again = await agent.client.checkpoint({ target: { pod: 'big-lazy' }, checkpointId: 'big-2' });
    assert.equal(again.reused, false);
    await agent.client.stopWorkload({ name: 'big-lazy' });
  });

  it('kills the restored process and reports a failure when the lazy-pages daemon dies mid-transfer', async () => {
    const first = await agent.client.restore({
      checkpointId: 'big-1',
      target: { pod: 'big-broken' },
      lazy: true,
    });
    const daemon = await lazyPagesDaemonOf(agent.process.pid!);
    assert.ok(daemon !== undefined, 'the agent runs a lazy-pages daemon for the restore');
    process.kill(daemon, 'SIGKILL');
    await assert.rejects(first.pagesComplete!, (err: Error & { phase: string }) => {
      assert.equal(err.phase, 'pagesComplete');
      assert.match(err.message, /internal error during pagesComplete/);
      return true;
    });
    await waitFor('the restored process to be gone', async () => !(await isRunning(first.restoredPid)));
    assert.match(agent.logs(), /lazy pages stopped arriving before every page was in/);
  });

  it('serves the pages of a manifest written before chunk digests, verifying each page image whole', async () => {
    const path = join(location, 'manifest.json');
    const written = await readFile(path, 'utf8');
    const manifest = JSON.parse(written) as { files: { chunks?: string[] }[] };
    for (const file of manifest.files) delete file.chunks;
    await writeFile(path, JSON.stringify(manifest));
    try {
      const first = await agent.client.restore({
        checkpointId: 'big-1',
        target: { pod: 'big-older' },
        lazy: true,
      });
      await first.pagesComplete;
      assert.ok(await isRunning(first.restoredPid));
      await agent.client.stopWorkload({ name: 'big-older' });
    } finally {
      await writeFile(path, written);
    }
  });

  it('runs before its lazy pages are verified; a corrupted part is never served, and kills the process', async () => {
    const manifest = await readManifest(location);
    const pages = manifest.files.find((f) => f.path.startsWith('criu/pages-') && f.size > 1 << 20)!;
    const at = Math.floor(pages.size / 2);
    await corrupt(join(location, pages.path), at, async () => {
      const first = await agent.client.restore({
        checkpointId: 'big-1',
        target: { pod: 'big-corrupt' },
        lazy: true,
      });
      assert.ok((first.durationsMs['firstRun'] ?? -1) > 0, 'the process ran before its memory was verified');
      await assert.rejects(first.pagesComplete!, (err: Error & { code: string; phase: string }) => {
        assert.equal(err.code, 'FAILED_PRECONDITION');
        assert.equal(err.phase, 'verify');
        // The part holding the changed byte is named: a chunk of CHUNK_SIZE.
        const part = Math.floor(at / CHUNK_SIZE) * CHUNK_SIZE;
        assert.ok(err.message.includes(`${pages.path} (bytes ${part}–`), err.message);
        return true;
      });
      await waitFor('the restored process to be gone', async () => !(await isRunning(first.restoredPid)));
    });
  });

  it('refuses to resume a tree whose non-lazy pages (CRIU reads them itself) are corrupted', async () => {
    const manifest = await readManifest(location);
    const pid = manifest.files.flatMap((f) => /^criu\/pagemap-(\d+)\.img$/.exec(f.path)?.[1] ?? [])[0];
    const pagemap = await readPagemap(join(location, 'criu'), Number(pid));
    const eager = pagemap.runs.find((r) => !r.lazy && r.offset !== undefined)!;
    assert.ok(eager, 'a python process has file-backed private pages, restored by CRIU itself');
    await corrupt(join(location, 'criu', pagemap.pagesImage), eager.offset!, async () => {
      await assert.rejects(
        agent.client.restore({ checkpointId: 'big-1', target: { pod: 'big-eager' }, lazy: true }),
        (err: Error & { code: string; phase: string }) => {
          assert.equal(err.code, 'FAILED_PRECONDITION');
          assert.equal(err.phase, 'verify');
          assert.ok(err.message.includes(pagemap.pagesImage), err.message);
          return true;
        },
      );
    });
    // Nothing of it runs: the workload is not there (it was never resumed, and was killed).
    const workloads = await agent.client.listWorkloads({});
    assert.ok(!workloads.workloads.some((w) => w.name === 'big-eager'), JSON.stringify(workloads));
  });

  it('refuses a lazy restore where the kernel has no userfaultfd, before touching anything', async () => {
    const deps = { lazyPagesSupported: false, logger: silentLogger() } as unknown as Parameters<
      typeof restore
    >[0];
    await assert.rejects(
      restore(deps, {
        checkpointId: 'big-1',
        target: undefined,
        noCuda: false,
        lazy: true,
        signal: new AbortController().signal,
      }),
      (err: Error & { code: string }) => {
        assert.equal(err.code, 'FAILED_PRECONDITION');
        assert.match(err.message, /userfaultfd/);
        return true;
      },
    );
  });
});
