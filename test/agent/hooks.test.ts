/**
 * A workload's hooks end to end (real agent, real CRIU, process runtime): the pre-checkpoint hook runs
 * before the dump and shrinks the image, the post-restore hook wakes the original once it runs again and
 * the restored copy before it is reported restored; a pre hook that fails or times out aborts the
 * checkpoint and the workload, woken, serves on; best effort goes on; a hook that would not fit before the
 * deadline is skipped (the pre hook, or the original's wake after a published checkpoint); a post hook that fails fails the restore and kills the restored tree; command hooks
 * run in the workload's namespaces with its environment.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Progress } from '../../src/agent/client.js';
import { type AgentProcess, commandPidOf, stagingEntries, startAgent } from '../helpers/agent-process.js';
import { hooksMessage, serverState, startHookServer } from '../helpers/hook-server.js';
import { isRunning, waitFor } from '../helpers/proc.js';
import { runCli } from '../helpers/snapback-cli.js';

const MIB = 1 << 20;
const CACHE_MIB = 64;
const SLEEP_WAKE = { pre: 'http POST :{PORT}/sleep', post: 'http POST :{PORT}/wake_up' };

/** `phase:STATE` of each progress update, and the messages. */
function recorder() {
  const seen: string[] = [];
  const messages: string[] = [];
  return {
    seen,
    messages,
    onProgress: (p: Progress) => {
      seen.push(`${p.phase}:${p.state}`);
      if (p.message !== '') messages.push(`${p.phase}: ${p.message}`);
    },
  };
}

/** Whether `a` was seen, and before `b`. */
function precedes(seen: readonly string[], a: string, b: string): boolean {
  return seen.indexOf(a) !== -1 && seen.indexOf(b) !== -1 && seen.indexOf(a) < seen.indexOf(b);
}

describe('agent: workload hooks around checkpoint and restore (real CRIU)', () => {
  let agent: AgentProcess;
  before(async () => {
    agent = await startAgent();
  });
  after(() => agent.shutdown());

  it('quiesces before the dump (a smaller image), wakes the original after it and the restored copy before it is reported', async () => {
    const { pid, serverPid, port } = await startHookServer(agent, 'sleeper', {
      cacheMib: CACHE_MIB,
      ...SLEEP_WAKE,
    });
    const { secret } = await serverState(port);
    const progress = recorder();
    const result = await agent.client.checkpoint(
      { target: { pod: 'sleeper' }, checkpointId: 'sleeper-1' },
      { onProgress: progress.onProgress },
    );
    const { seen } = progress;
    assert.ok(precedes(seen, 'preHook:FINISHED', 'criuDump:STARTED'), seen.join(' '));
    assert.ok(precedes(seen, 'promote:FINISHED', 'postHook:STARTED'), 'woken once the image is safe');
    for (const phase of ['preHook', 'postHook'])
      assert.ok((result.durationsMs[phase] ?? -1) >= 0, `duration of ${phase}`);
    assert.ok(
      Number(result.sizeBytes) < (CACHE_MIB / 2) * MIB,
      `the image (${result.sizeBytes} bytes) holds no ${CACHE_MIB} MiB cache: dropped before the dump`,
    );
    const original = await serverState(port);
    assert.equal(original.asleep, false, 'the original is awake again');
    assert.equal(original.cacheBytes, CACHE_MIB * MIB);
    assert.deepEqual(
      original.calls.map((c) => `${c.path} ${c.by}`),
      [`/sleep ${serverPid}`, `/wake_up ${serverPid}`],
    );
    const manifest = JSON.parse(
      (await agent.client.getCheckpoint({ checkpointId: 'sleeper-1' })).manifestJson,
    );
    assert.equal(manifest.hooks.postRestore.path, '/wake_up', 'the manifest records the hooks');

    await agent.client.stopWorkload({ name: 'sleeper' });
    await waitFor('the original to die', async () => !(await isRunning(pid)));
    const restoreProgress = recorder();
    const restored = await agent.client.restore(
      { checkpointId: 'sleeper-1' },
      { onProgress: restoreProgress.onProgress },
    );
    assert.ok(precedes(restoreProgress.seen, 'criuRestore:FINISHED', 'postHook:STARTED'));
    assert.ok(precedes(restoreProgress.seen, 'postHook:FINISHED', 'confirm:STARTED'));
    assert.ok((restored.durationsMs['postHook'] ?? -1) >= 0);
    // Reported restored only once woken: the state is already awake at the first question.
    const copy = await serverState(port);
    assert.equal(copy.secret, secret, 'the same server, restored');
    assert.equal(copy.asleep, false);
    assert.equal(copy.cacheBytes, CACHE_MIB * MIB);
    assert.deepEqual(
      copy.calls.map((c) => `${c.path} ${c.by}`),
      [`/sleep ${serverPid}`, `/wake_up ${await commandPidOf(restored.restoredPid)}`],
      'the image was taken asleep; the restored process was woken',
    );
    await agent.client.stopWorkload({ name: 'sleeper' });
  });

  it('a pre hook that fails aborts the checkpoint and wakes the workload, which serves on', async () => {
    const { port } = await startHookServer(agent, 'failing', {
      cacheMib: 8,
      pre: 'http POST :{PORT}/fail',
      post: 'http POST :{PORT}/wake_up',
    });
    await assert.rejects(
      agent.client.checkpoint({ target: { pod: 'failing' }, checkpointId: 'failing-1' }),
      (err: Error & { code: string; phase?: string }) => {
        assert.equal(err.code, 'FAILED_PRECONDITION');
        assert.equal(err.phase, 'preHook');
        assert.match(err.message, /hook http POST :\d+\/fail timeout=30s answered 500/);
        assert.match(err.message, /rolled back: woke the workload/);
        return true;
      },
    );
    const state = await serverState(port);
    assert.deepEqual(
      state.calls.map((c) => c.path),
      ['/fail', '/wake_up'],
    );
    await assert.rejects(agent.client.getCheckpoint({ checkpointId: 'failing-1' }), { code: 'NOT_FOUND' });
    assert.deepEqual(await stagingEntries(agent.storage), []);
  });

  it('a pre hook that outlives its timeout is cut off at it, and the workload serves on', async () => {
    const { port } = await startHookServer(agent, 'slow', {
      cacheMib: 8,
      pre: 'http POST :{PORT}/slow?ms=20000 timeout=500ms',
      post: 'http POST :{PORT}/wake_up',
    });
    const started = performance.now();
    await assert.rejects(
      agent.client.checkpoint({ target: { pod: 'slow' }, checkpointId: 'slow-1' }),
      (err: Error & { code: string; phase?: string }) => {
        assert.equal(err.phase, 'preHook');
        assert.match(err.message, /did not finish within 500 ms/);
        return true;
      },
    );
    const tookMs = performance.now() - started;
    assert.ok(
      tookMs < 10_000,
      `failed after ${Math.round(tookMs)} ms, not after the 20 s the hook would take`,
    );
    const state = await serverState(port);
    assert.deepEqual(
      state.calls.map((c) => c.path),
      ['/slow', '/wake_up'],
    );
  });

  it('best effort: a failing pre hook is reported and the checkpoint goes on', async () => {
    const { port } = await startHookServer(agent, 'effort', {
      cacheMib: 8,
      pre: 'http POST :{PORT}/fail',
      post: 'http POST :{PORT}/wake_up',
    });
    const progress = recorder();
    const result = await agent.client.checkpoint(
      { target: { pod: 'effort' }, checkpointId: 'effort-1', bestEffortHooks: true },
      { onProgress: progress.onProgress },
    );
    assert.equal(result.checkpointId, 'effort-1');
    assert.ok(
      progress.messages.some((m) => /^preHook: failed; checkpointing the workload as it is/.test(m)),
      progress.messages.join('\n'),
    );
    assert.deepEqual(
      (await serverState(port)).calls.map((c) => c.path),
      ['/fail', '/wake_up'],
    );
  });

  it('skips a pre hook whose timeout does not fit before the deadline, and says so', async () => {
    const { port } = await startHookServer(agent, 'hurried', {
      cacheMib: CACHE_MIB,
      pre: 'http POST :{PORT}/sleep timeout=2m',
      post: 'http POST :{PORT}/wake_up',
    });
    const progress = recorder();
    const result = await agent.client.checkpoint(
      { target: { pod: 'hurried' }, checkpointId: 'hurried-1' },
      { deadline: new Date(Date.now() + 60_000), onProgress: progress.onProgress },
    );
    assert.ok(
      progress.messages.some((m) => /^preHook: skipped: its timeout of 120000 ms does not fit/.test(m)),
      progress.messages.join('\n'),
    );
    assert.equal(result.durationsMs['preHook'], undefined);
    assert.equal(result.durationsMs['postHook'], undefined, 'nothing to wake');
    assert.ok(Number(result.sizeBytes) > CACHE_MIB * MIB, 'taken as it was, cache and all');
    assert.deepEqual((await serverState(port)).calls, []);
  });

  it('leaves the original quiesced when its wake would outlast the deadline, and `snapback checkpoint` says so', async () => {
    const { port } = await startHookServer(agent, 'late', {
      cacheMib: CACHE_MIB,
      pre: 'http POST :{PORT}/sleep timeout=1s',
      post: 'http POST :{PORT}/wake_up timeout=5m',
    });
    const run = await runCli([
      'checkpoint',
      '--agent',
      agent.address,
      '--target',
      'late',
      '--id',
      'late-1',
      '--timeout',
      '60',
      '--json',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as {
      sizeBytes: number;
      notes?: string[];
      durations: Record<string, number>;
    };
    assert.ok(result.sizeBytes < (CACHE_MIB / 2) * MIB, 'the pre hook fitted, and ran');
    assert.equal(result.durations['postHook'], undefined);
    assert.match(
      result.notes?.join('\n') ?? '',
      /^postHook: skipped: its timeout of 300000 ms does not fit/m,
    );
    const state = await serverState(port);
    assert.deepEqual(
      state.calls.map((c) => c.path),
      ['/sleep'],
    );
    assert.equal(state.asleep, true);
  });

  it("a post hook that fails fails the restore and kills the restored tree (the request's hooks first)", async () => {
    const { pid, port } = await startHookServer(agent, 'waking', { cacheMib: 8, ...SLEEP_WAKE });
    await agent.client.checkpoint({ target: { pod: 'waking' }, checkpointId: 'waking-1' });
    await agent.client.stopWorkload({ name: 'waking' });
    await waitFor('the original to die', async () => !(await isRunning(pid)));
    await assert.rejects(
      agent.client.restore({
        checkpointId: 'waking-1',
        hooks: hooksMessage(port, { post: 'http POST :{PORT}/fail' }),
      }),
      (err: Error & { code: string; phase?: string }) => {
        assert.equal(err.code, 'FAILED_PRECONDITION');
        assert.equal(err.phase, 'postHook');
        assert.match(err.message, /\/fail timeout=30s answered 500/);
        assert.doesNotMatch(err.message, /CRIU's log/, "CRIU's restore succeeded: its log is not the reason");
        return true;
      },
    );
    await waitFor('nothing to answer on the port', () =>
      serverState(port).then(
        () => false,
        () => true,
      ),
    );
    const { workloads } = await agent.client.listWorkloads({});
    assert.ok(!workloads.some((w) => w.name === 'waking' && w.running), 'the restored tree was killed');
  });

  it('command hooks run in the workload’s namespaces, with its environment, and are killed whole at their timeout', async () => {
    const out = join(agent.dir, 'exec-hook');
    await rm(out, { force: true });
    const record = `echo "$HOOK_WORD $(readlink /proc/self/ns/pid) $(readlink /proc/self/ns/net)" > ${out}`;
    const { pid } = await startHookServer(agent, 'commanded', {
      cacheMib: 8,
      pre: `exec ["sh","-c",${JSON.stringify(record)}]`,
      post: 'http POST :{PORT}/wake_up',
      env: { HOOK_WORD: 'from-the-workload' },
    });
    await agent.client.checkpoint({ target: { pod: 'commanded' }, checkpointId: 'commanded-1' });
    const [word, pidNs, netNs] = (await readFile(out, 'utf8')).trim().split(' ');
    assert.equal(word, 'from-the-workload');
    assert.equal(pidNs, await readlink(`/proc/${pid}/ns/pid`), "in the workload's pid namespace");
    assert.notEqual(pidNs, await readlink('/proc/self/ns/pid'));
    assert.equal(netNs, await readlink(`/proc/${pid}/ns/net`));

    await agent.client.stopWorkload({ name: 'commanded' });
    const sleepy = await startHookServer(agent, 'sleepy', {
      cacheMib: 8,
      pre: 'exec ["sleep","1000"] timeout=300ms',
      post: 'http POST :{PORT}/wake_up',
    });
    await assert.rejects(agent.client.checkpoint({ target: { pod: 'sleepy' }, checkpointId: 'sleepy-1' }), {
      phase: 'preHook',
    });
    // Nothing of the hook is left in the workload's pid namespace for a later dump to trip on.
    const ns = await readlink(`/proc/${sleepy.pid}/ns/pid`);
    const left = await waitFor('the hook to be gone', async () => {
      const { stdout } = await runPs();
      const inNs = [];
      for (const line of stdout.split('\n').filter((l) => /\bsleep 1000\b/.test(l))) {
        const p = Number(line.trim().split(/\s+/)[0]);
        if ((await readlink(`/proc/${p}/ns/pid`).catch(() => '')) === ns) inNs.push(p);
      }
      return inNs.length === 0 ? inNs : undefined;
    });
    assert.deepEqual(left, []);
    assert.equal((await serverState(sleepy.port)).asleep, false);
  });

  it('bad hooks are refused naming the field (gRPC) or the flag (CLI)', async () => {
    await assert.rejects(
      agent.client.startWorkload({
        name: 'bad-hooks',
        command: ['sleep', '100'],
        hooks: { preCheckpoint: { http: { method: 'POST', port: 0, path: '/sleep' } } },
      }),
      (err: Error & { code: string }) => {
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.match(err.message, /hooks\.preCheckpoint\.port must be a port number/);
        return true;
      },
    );
    const run = await runCli([
      'run',
      '--agent',
      agent.address,
      '--name',
      'bad-flag',
      '--post-restore',
      'http POST :8000 sleep',
      '--',
      'sleep',
      '100',
    ]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /--post-restore: unknown option "sleep"/);
    const { workloads } = await agent.client.listWorkloads({});
    assert.ok(!workloads.some((w) => w.name === 'bad-hooks' || w.name === 'bad-flag'));
  });
});

const runPs = () => promisify(execFile)('ps', ['-eo', 'pid,args']);

describe('agent: a workload quiesced when the agent died is woken by the next one (real CRIU)', () => {
  let agent: AgentProcess;
  before(async () => {
    agent = await startAgent();
  });
  after(() => agent.shutdown());

  it('the journal names it; the restarted agent runs its post-restore hook before it serves', async () => {
    const { port } = await startHookServer(agent, 'orphaned', {
      cacheMib: 8,
      pre: 'http POST :{PORT}/slow?ms=60000',
      post: 'http POST :{PORT}/wake_up',
    });
    const attempt = agent.client
      .checkpoint({ target: { pod: 'orphaned' }, checkpointId: 'orphaned-1' })
      .catch((err: unknown) => err);
    await waitFor('the pre hook to reach the server', async () =>
      (await serverState(port)).calls.some((c) => c.path === '/slow'),
    );
    await agent.kill();
    assert.ok((await attempt) instanceof Error, 'the call died with its agent');
    assert.deepEqual(
      (await serverState(port)).calls.map((c) => c.path),
      ['/slow'],
      'nobody woke it yet',
    );
    agent = await startAgent({ dir: agent.dir });
    const woken = await serverState(port);
    assert.deepEqual(
      woken.calls.map((c) => c.path),
      ['/slow', '/wake_up'],
      'woken during recovery, before the agent listened',
    );
    assert.match(agent.logs(), /woke a workload a previous agent left quiesced/);
  });
});
