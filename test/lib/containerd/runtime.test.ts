/**
 * The containerd runtime end to end, all real: a private containerd 1.7 + runc, CRIU 4.2, and the agent
 * as users run it (`snapback agent --runtime containerd`), driven over gRPC. A stateful loop in a busybox
 * container is checkpointed, then restored into a placeholder container of the same image, where it
 * continues from its checkpointed counter with its in-memory secret and the files it wrote.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SnapbackError } from '../../../src/errors.js';
import { createContainerdClient, createContainerdRuntime } from '../../../src/lib/containerd/index.js';
import type { Criu } from '../../../src/lib/criu/index.js';
import { runTool } from '../../../src/lib/tools/index.js';
import { type AgentProcess, startAgent } from '../../helpers/agent-process.js';
import {
  type Containerd,
  containerdMissing,
  criuDir,
  OTHER_IMAGE,
  startContainerd,
} from '../../helpers/containerd.js';
import { isRunning, waitFor } from '../../helpers/proc.js';

const missing = containerdMissing();

/** `i secret` written every 0.1 s by a session leader under the container's init (not PID 1). */
const LOOP = [
  'sh',
  '-c',
  'mkdir -p /data; echo before > /data/before.txt; rm /etc/doomed; ' +
    'setsid sh -c \'s=$$-$RANDOM; i=0; while true; do i=$((i+1)); echo "$i $s" > /data/counter; sleep 0.1; done\' ' +
    '</dev/null >/dev/null 2>&1 & exec sleep 1000000',
];
const PLACEHOLDER = ['sleep', '1000000'];

async function counter(pid: number): Promise<{ i: number; secret: string } | undefined> {
  const text = await readFile(`/proc/${pid}/root/data/counter`, 'utf8').catch(() => '');
  const [i, secret] = text.trim().split(' ');
  return i && secret ? { i: Number(i), secret } : undefined;
}

async function rejection(promise: Promise<unknown>): Promise<SnapbackError> {
  const err = await promise.then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SnapbackError, String(err));
  return err;
}

describe('containerd runtime: checkpoint and restore into a placeholder (real containerd, runc, CRIU)', {
  skip: missing,
}, () => {
  let ctd: Containerd;
  let agent: AgentProcess;
  let binds: string[];
  let agentDir: string | undefined;
  const t0 = performance.now();

  before(async () => {
    ctd = await startContainerd();
    agentDir = await mkdtemp(join(tmpdir(), 'snapback-agent-ctd-'));
    agent = await startAgent({
      dir: agentDir,
      args: [
        '--runtime',
        'containerd',
        '--containerd-socket',
        ctd.socket,
        '--containerd-namespace',
        ctd.namespace,
        '--criu',
        join(criuDir, 'bin/criu'),
        '--no-cuda',
      ],
    });
    binds = [agent.storage, criuDir];
  });
  after(async () => {
    // Each step runs even when an earlier one fails: nothing may outlive the suite.
    await agent?.stop().catch(() => {});
    try {
      await ctd?.stop();
    } finally {
      if (agentDir) await rm(agentDir, { recursive: true, force: true });
    }
    console.log(`containerd suite: ${Math.round(performance.now() - t0)} ms`);
  });

  /** Each test's own loop container, counting, and a checkpoint of it named like it: nothing is shared. */
  async function checkpointedLoop(name: string) {
    const pid = await ctd.run(name, LOOP, { binds });
    const running = await waitFor(
      `${name} to count past 3`,
      async () => ((await counter(pid))?.i ?? 0) > 3 && counter(pid),
    );
    const result = await agent.client.checkpoint({ target: { pod: name }, checkpointId: name });
    return { pid, running, result };
  }

  it('restores a checkpointed loop into a placeholder, where it continues with its memory and files', async () => {
    const src = await ctd.run('src', LOOP, { binds });
    const running = await waitFor(
      'the loop to count past 3',
      async () => ((await counter(src))?.i ?? 0) > 3 && counter(src),
    );
    const result = await agent.client.checkpoint({ target: { pod: 'src' }, checkpointId: 'loop' });
    assert.equal(result.reused, false);
    for (const phase of ['inspect', 'criuDump', 'rootfs', 'promote'])
      assert.ok((result.durationsMs[phase] ?? -1) >= 0, phase);
    const manifest = JSON.parse(await readFile(join(result.location, 'manifest.json'), 'utf8'));
    assert.equal(manifest.runtime, 'containerd');
    assert.equal(manifest.workload.containerId, 'src');
    assert.ok(manifest.files.some((f: { path: string }) => f.path === 'rootfs-diff.tar'));
    const deleted = JSON.parse(await readFile(join(result.location, 'deleted-files.json'), 'utf8'));
    assert.deepEqual(deleted.deleted, ['/etc/doomed']);
    const after1 = await waitFor(
      'the source to keep counting',
      async () => ((await counter(src))?.i ?? 0) > running.i + 2 && counter(src),
    );
    assert.equal(after1.secret, running.secret, 'the source keeps running after the checkpoint');

    const ph = await ctd.run('ph', PLACEHOLDER, { binds });
    assert.equal(await counter(ph), undefined, 'a fresh placeholder has no counter');
    const restored = await agent.client.restore({ checkpointId: 'loop', target: { pod: 'ph' } });
    assert.equal(restored.workload, 'ph');
    assert.equal(restored.namespacePid, manifest.workload.namespacePid);
    assert.ok(await isRunning(restored.restoredPid));
    for (const phase of ['setup', 'rootfs', 'criuRestore'])
      assert.ok((restored.durationsMs[phase] ?? -1) >= 0, phase);
    const status = await readFile(`/proc/${restored.restoredPid}/status`, 'utf8');
    assert.match(status, /PPid:\s+(\d+)/);
    assert.equal(
      Number(/PPid:\s+(\d+)/.exec(status)?.[1]),
      ph,
      "the restored loop's parent is the placeholder's init",
    );
    assert.equal(
      await readFile(`/proc/${restored.restoredPid}/cgroup`, 'utf8'),
      await readFile(`/proc/${ph}/cgroup`, 'utf8'),
    );
    assert.equal(await readFile(`/proc/${ph}/root/data/before.txt`, 'utf8'), 'before\n');
    await assert.rejects(readFile(`/proc/${ph}/root/etc/doomed`), 'the deletion is applied');
    const first = (await counter(ph))!;
    assert.equal(first.secret, running.secret, 'the in-memory secret came back');
    assert.ok(
      first.i >= running.i,
      `continues from ${first.i}, not from 1 (checkpointed after ${running.i})`,
    );
    await waitFor('the restored loop to count on', async () => ((await counter(ph))?.i ?? 0) > first.i + 2);

    const busy = await rejection(agent.client.restore({ checkpointId: 'loop', target: { pod: 'ph' } }));
    assert.equal(busy.code, 'FAILED_PRECONDITION');
    assert.match(busy.message, /already runs pid/);
    assert.ok(await isRunning(restored.restoredPid), 'a refused restore leaves the placeholder as it was');
  });

  it('replaces a checkpoint when asked, and restores the new version', async () => {
    const { pid: src, result: original } = await checkpointedLoop('replace');
    const old = await agent.client.checkpoint({ target: { pod: 'replace' }, checkpointId: 'replace' });
    assert.equal(old.reused, true, 'without replace the existing checkpoint is returned');
    assert.equal(old.version, original.version);
    const before2 = (await counter(src))!;
    const replaced = await agent.client.checkpoint({
      target: { pod: 'replace' },
      checkpointId: 'replace',
      replace: true,
    });
    assert.equal(replaced.reused, false);
    assert.notEqual(replaced.version, old.version);
    const ph2 = await ctd.run('ph2', PLACEHOLDER, { binds });
    await agent.client.restore({ checkpointId: 'replace', target: { pod: 'ph2' } });
    const first = await waitFor('the second restore to count', () => counter(ph2));
    assert.ok(first.i >= before2.i, `the new version (${first.i}) is newer than the first checkpoint`);
  });

  it('refuses bad targets and placeholders clearly, losing nothing', async () => {
    await checkpointedLoop('refuse');
    const nothing = await rejection(
      agent.client.checkpoint({ target: { pod: 'no-such-container' }, checkpointId: 'x' }),
    );
    assert.equal(nothing.code, 'NOT_FOUND');
    assert.match(
      nothing.message,
      new RegExp(`no container for .*no-such-container.* namespace ${ctd.namespace}`),
    );
    const byId = await rejection(
      agent.client.checkpoint({ target: { pod: 'p', containerId: 'nope' }, checkpointId: 'x' }),
    );
    assert.match(byId.message, /container nope not found/);

    const other = await ctd.run('other', PLACEHOLDER, { image: OTHER_IMAGE, binds });
    const wrongImage = await rejection(
      agent.client.restore({ checkpointId: 'refuse', target: { pod: 'other' } }),
    );
    assert.equal(wrongImage.code, 'FAILED_PRECONDITION');
    assert.match(wrongImage.message, /runs image snapback.test\/busybox:other/);
    assert.ok(await isRunning(other), 'the placeholder of another image is left alone');

    const gone = await rejection(agent.client.restore({ checkpointId: 'refuse', target: { pod: 'gone' } }));
    // The access policy looks the placeholder up first (its pod must opt in): there is none.
    assert.equal(gone.code, 'NOT_FOUND');
    assert.match(gone.message, /no container for default\/gone/);

    await ctd.ctr('task', 'kill', '-s', 'SIGKILL', 'other');
    await waitFor('other to stop', async () => !(await isRunning(other)));
    const stopped = await rejection(
      agent.client.restore({ checkpointId: 'refuse', target: { pod: 'other' } }),
    );
    assert.equal(stopped.code, 'FAILED_PRECONDITION');
    assert.match(stopped.message, /not running/);

    const unshared = await ctd.run('unshared', PLACEHOLDER);
    const noTools = await rejection(
      agent.client.restore({ checkpointId: 'refuse', target: { pod: 'unshared' } }),
    );
    assert.equal(noTools.code, 'FAILED_PRECONDITION');
    assert.match(noTools.message, /is not visible inside placeholder unshared/);
    assert.ok(await isRunning(unshared));
  });

  it('kills a placeholder whose restore failed, and names a wrong containerd namespace', async () => {
    const { location } = (await checkpointedLoop('failing')).result;
    const manifest = JSON.parse(await readFile(join(location, 'manifest.json'), 'utf8'));
    const client = createContainerdClient({ socket: ctd.socket, namespace: ctd.namespace });
    const runtime = createContainerdRuntime({
      client,
      run: runTool,
      criuBinary: join(criuDir, 'bin/criu'),
      storageDir: agent.storage,
    });
    // CRIU failing after the rootfs diff was applied: the placeholder must not stay half-restored.
    const failingCriu = {
      restore: async () => Promise.reject(new SnapbackError('INTERNAL', 'criu restore failed (injected)')),
    } as unknown as Criu;
    const ph3 = await ctd.run('ph3', PLACEHOLDER, { binds });
    const failed = await rejection(
      runtime.restore({
        checkpointId: 'failing',
        workload: manifest.workload,
        checkpointDir: location,
        imagesDir: join(location, 'criu'),
        workDir: join(agent.storage, 'tmp', 'test-node'),
        target: { namespace: 'default', pod: 'ph3' },
        criu: failingCriu,
        signal: new AbortController().signal,
      }),
    );
    assert.match(failed.message, /criu restore failed \(injected\) \(placeholder ph3 was killed\)/);
    await waitFor('ph3 to be killed', async () => !(await isRunning(ph3)));

    const elsewhere = createContainerdRuntime({
      client: createContainerdClient({ socket: ctd.socket, namespace: 'not-there' }),
      run: runTool,
      criuBinary: join(criuDir, 'bin/criu'),
      storageDir: agent.storage,
    });
    const wrongNs = await rejection(
      elsewhere.inspect({ namespace: 'default', pod: 'x', containerId: 'failing' }),
    );
    assert.equal(wrongNs.code, 'NOT_FOUND');
    assert.match(wrongNs.message, /container failing not found in containerd namespace not-there/);
    client.close();
  });

  it('refuses a container that did not opt in (label snapback.io/enabled: "true"), dumping nothing', async () => {
    const pid = await ctd.run('shy', PLACEHOLDER, { binds, labels: { app: 'shy' } });
    const err = await rejection(agent.client.checkpoint({ target: { pod: 'shy' }, checkpointId: 'shy' }));
    assert.equal(err.code, 'FAILED_PRECONDITION');
    assert.match(
      err.message,
      /container shy has not opted in: it needs the label snapback\.io\/enabled: "true" \(rule: opt-in\)/,
    );
    assert.ok(await isRunning(pid));
    await rejection(agent.client.getCheckpoint({ checkpointId: 'shy' }));
  });

  it('says containerd is down, and keeps the previous checkpoint', async () => {
    const before3 = (await checkpointedLoop('down')).result;
    await ctd.killDaemon();
    try {
      const down = await rejection(
        agent.client.checkpoint({ target: { pod: 'down' }, checkpointId: 'down', replace: true }),
      );
      assert.equal(down.code, 'UNAVAILABLE');
      assert.match(down.message, /containerd is not reachable at .*containerd.sock/);
    } finally {
      await ctd.startDaemon();
    }
    const still = await agent.client.checkpoint({ target: { pod: 'down' }, checkpointId: 'down' });
    assert.equal(still.reused, true);
    assert.equal(still.version, before3.version, 'the previous checkpoint is intact');
  });
});
