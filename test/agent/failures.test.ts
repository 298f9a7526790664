/**
 * What must never be lost: when a checkpoint fails — the target dies mid-dump, CRIU fails, the deadline
 * expires, storage is unwritable — the error is clear, the previous checkpoint of that id is intact,
 * no staging is left, and the workload runs on wherever it was running. A corrupted image is refused.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, open, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readManifest, verifyFiles } from '../../src/lib/storage/index.js';
import {
  type AgentProcess,
  stagingEntries,
  startAgent,
  startStatefulWorkload,
} from '../helpers/agent-process.js';
import { isRunning, processesMentioning, waitFor } from '../helpers/proc.js';

async function assertPreviousIntact(agent: AgentProcess, id: string, version: string): Promise<void> {
  const info = await agent.client.getCheckpoint({ checkpointId: id });
  assert.equal(info.version, version, 'the previous checkpoint is still the current one');
  await verifyFiles(info.location, await readManifest(info.location));
}

async function noStagingLeft(agent: AgentProcess): Promise<void> {
  await waitFor(
    'staging to be removed',
    async () => (await stagingEntries(agent.storage)).length === 0,
    30_000,
  );
}

describe('agent: failures lose nothing (real CRIU)', () => {
  let agent: AgentProcess;

  before(async () => {
    agent = await startAgent();
  });
  after(() => agent.shutdown());

  async function workload(name: string, mib: number): Promise<{ pid: number; out: string }> {
    return startStatefulWorkload(agent, name, mib);
  }

  it('keeps the previous checkpoint when the target dies mid-dump', async () => {
    const { pid } = await workload('dies', 256);
    const previous = await agent.client.checkpoint({ target: { pod: 'dies' }, checkpointId: 'dies-1' });
    const attempt = agent.client.checkpoint(
      { target: { pod: 'dies' }, checkpointId: 'dies-1', replace: true },
      {
        onProgress: (p) => {
          if (p.phase === 'criuDump' && p.state === 'STARTED') process.kill(pid, 'SIGKILL');
        },
      },
    );
    await assert.rejects(attempt, (err: { code: string; phase?: string }) => {
      assert.equal(err.phase, 'criuDump');
      return true;
    });
    await noStagingLeft(agent);
    await assertPreviousIntact(agent, 'dies-1', previous.version);
  });

  it('answers DEADLINE_EXCEEDED when the deadline passes, and rolls back', async () => {
    const { pid } = await workload('slow', 256);
    const previous = await agent.client.checkpoint({ target: { pod: 'slow' }, checkpointId: 'slow-1' });
    await assert.rejects(
      agent.client.checkpoint(
        { target: { pod: 'slow' }, checkpointId: 'slow-1', replace: true },
        { deadline: new Date(Date.now() + 150) },
      ),
      { code: 'DEADLINE_EXCEEDED' },
    );
    await noStagingLeft(agent);
    // The agent finishes the dump it could not interrupt safely, then discards it.
    await waitFor('the agent to finish the abandoned operation', async () => {
      const versions = await readdir(join(agent.storage, 'slow-1', 'versions'));
      return versions.length === 1 && (await stagingEntries(agent.storage)).length === 0;
    });
    await assertPreviousIntact(agent, 'slow-1', previous.version);
    assert.ok(await isRunning(pid), 'the workload runs on');
  });

  it('reports a CRIU failure with its phase and the tail of its log; the workload runs on', async () => {
    const wrapper = join(agent.dir, 'criu-bad-option');
    await writeFile(
      wrapper,
      '#!/bin/sh\n[ "$1" = dump ] && exec criu "$@" --no-such-option\nexec criu "$@"\n',
    );
    await chmod(wrapper, 0o755);
    const second = await startAgent({ args: ['--criu', wrapper], dir: join(agent.dir, 'second') });
    try {
      const w = await startStatefulWorkload(second, 'crit', 4);
      await assert.rejects(
        second.client.checkpoint({ target: { pod: 'crit' }, checkpointId: 'crit-1' }),
        (err: { code: string; phase: string }) => {
          assert.equal(err.phase, 'criuDump');
          return true;
        },
      );
      assert.ok(await isRunning(w.pid));
      await noStagingLeft(second);
      assert.match(second.logs(), /no-such-option/, 'the agent logged what CRIU said');
      await assert.rejects(second.client.getCheckpoint({ checkpointId: 'crit-1' }), {
        code: 'NOT_FOUND',
      });
      await second.client.stopWorkload({ name: 'crit' });
    } finally {
      await second.stop();
    }
  });

  it('fails clearly when storage is not writable, and works again once it is', async () => {
    const { pid } = await workload('nostore', 4);
    const staging = join(agent.storage, 'tmp');
    await rm(staging, { recursive: true, force: true });
    await writeFile(staging, 'not a folder');
    try {
      await assert.rejects(
        agent.client.checkpoint({ target: { pod: 'nostore' }, checkpointId: 'nostore-1' }),
        (err: Error & { code: string }) => {
          assert.equal(err.code, 'FAILED_PRECONDITION');
          assert.match(err.message, /storage is not writable/);
          return true;
        },
      );
      assert.ok(await isRunning(pid));
    } finally {
      await rm(staging, { force: true });
      await mkdir(staging, { mode: 0o700 });
    }
    const result = await agent.client.checkpoint({
      target: { pod: 'nostore' },
      checkpointId: 'nostore-1',
    });
    assert.equal(result.reused, false);
  });

  it('refuses to restore a corrupted image, naming the file, and kills the tree it held stopped', async () => {
    const { out } = await workload('corrupt', 4);
    const result = await agent.client.checkpoint({
      target: { pod: 'corrupt' },
      checkpointId: 'corrupt-1',
    });
    const manifest = await readManifest(result.location);
    const pages = manifest.files.find((f) => f.path.startsWith('criu/pages-'))!;
    const handle = await open(join(result.location, pages.path), 'r+');
    await handle.write(Buffer.from('garbage!'), 0, 8, 4096);
    await handle.close();
    const original = await processesMentioning(out);
    const phases: string[] = [];
    await assert.rejects(
      agent.client.restore(
        { checkpointId: 'corrupt-1', target: { pod: 'corrupt-restored' } },
        { onProgress: (p) => p.state === 'STARTED' && phases.push(p.phase) },
      ),
      (err: Error & { code: string; phase: string }) => {
        assert.equal(err.code, 'FAILED_PRECONDITION');
        assert.equal(err.phase, 'verify');
        assert.ok(err.message.includes(pages.path), err.message);
        return true;
      },
    );
    // The memory is verified while CRIU restores it: the tree was restored, never resumed, and killed.
    assert.ok(phases.includes('criuRestore'), phases.join(' '));
    assert.ok(!phases.includes('resume'), phases.join(' '));
    await waitFor(
      'the restored copy to be gone',
      async () => (await processesMentioning(out)).length === original.length,
    );
    const { workloads } = await agent.client.listWorkloads({});
    assert.ok(!workloads.some((w) => w.name === 'corrupt-restored'), 'nothing was restored');
  });
});
