/**
 * Any container as it runs (real containerd, runc, CRIU; the agent as users run it). Workloads that are
 * their container's PID 1, with no binds and nothing of snapback in their image, are checkpointed, their
 * source killed, and restored into placeholders — with snapback-init as PID 1, and into a plain `sleep` —
 * where they go on with their memory: a shell loop's secret and counter, a Python server's in-memory state
 * behind its port, a tree under a tini-style init. emptyDir and /dev/shm contents travel; two restores of
 * one checkpoint run side by side; a lazy restore works.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { containerdMissing, PYTHON_IMAGE } from '../../helpers/containerd.js';
import { type ContainerdSuite, counterIn, startContainerdSuite } from '../../helpers/containerd-suite.js';
import { isRunning, waitFor } from '../../helpers/proc.js';

const execFileAsync = promisify(execFile);
const missing = containerdMissing();

/** A shell loop as PID 1: a secret and a counter in shell variables, a `sleep` child forked every round. */
const LOOP = (file = '/data/counter') => [
  'sh',
  '-c',
  `mkdir -p /data; echo before > /data/before.txt; rm -f /etc/doomed; s=$$-$RANDOM; i=0; trap "exit 7" TERM; while true; do i=$((i+1)); echo "$i $s" > ${file}; sleep 0.1; done`,
];

/** A Python HTTP server as PID 1: a secret and a request count held in memory, on port 8080. */
const SERVER = [
  'python3',
  '-c',
  [
    'import http.server, os',
    'secret, count = os.urandom(4).hex(), 0',
    'class Handler(http.server.BaseHTTPRequestHandler):',
    '    def do_GET(self):',
    '        global count',
    '        count += 1',
    "        body = f'{secret} {count}'.encode()",
    '        self.send_response(200)',
    "        self.send_header('content-length', str(len(body)))",
    '        self.end_headers()',
    '        self.wfile.write(body)',
    '    def log_message(self, *args):',
    '        pass',
    "http.server.HTTPServer(('0.0.0.0', 8080), Handler).serve_forever()",
  ].join('\n'),
];

/** GET / from inside the network namespace of `pid` (the container's). */
async function ask(pid: number): Promise<string> {
  const { stdout } = await execFileAsync('nsenter', [
    '-t',
    String(pid),
    '-n',
    'curl',
    '-sf',
    'http://127.0.0.1:8080/',
  ]);
  return stdout;
}

describe('any container as it runs: PID 1 workloads into placeholders (real containerd, runc, CRIU)', {
  skip: missing,
}, () => {
  let suite: ContainerdSuite;
  before(async () => {
    suite = await startContainerdSuite();
  });
  after(() => suite?.stop());

  const kill = async (id: string) => {
    await suite.ctd.ctr('task', 'kill', '-s', 'SIGKILL', id);
    await suite.ctd.exitCode(id);
  };

  it('a shell loop that is its container PID 1 comes back as PID 1 under snapback-init, which mirrors its end', async () => {
    const { ctd, agent } = suite;
    const src = await ctd.run('loop-src', LOOP());
    const running = await waitFor(
      'the loop to count past 3',
      async () => ((await counterIn(src))?.i ?? 0) > 3 && counterIn(src),
    );
    const result = await agent.client.checkpoint({ target: { pod: 'loop-src' }, checkpointId: 'loop' });
    const manifest = JSON.parse(await readFile(join(result.location, 'manifest.json'), 'utf8'));
    assert.equal(manifest.workload.format, 2);
    assert.ok(manifest.files.some((f: { path: string }) => f.path === 'rootfs-diff.tar'));
    const deleted = JSON.parse(await readFile(join(result.location, 'deleted-files.json'), 'utf8'));
    assert.ok(deleted.deleted.includes('/etc/doomed'), JSON.stringify(deleted));
    await kill('loop-src');

    const mounts = await suite.initMounts('loop-ph');
    const ph = await ctd.run('loop-ph', suite.initCommand(['sleep', '1000000']), { mounts });
    const state = join(mounts[0]!.source, 'state');
    await waitFor('snapback-init to wait', async () =>
      (await readFile(state, 'utf8').catch(() => '')).startsWith('waiting'),
    );
    const restored = await agent.client.restore({ checkpointId: 'loop', target: { pod: 'loop-ph' } });
    for (const phase of ['setup', 'rootfs', 'criuRestore'])
      assert.ok((restored.durationsMs[phase] ?? -1) >= 0, phase);
    const status = await readFile(`/proc/${restored.restoredPid}/status`, 'utf8');
    assert.equal(
      Number(/PPid:\s+(\d+)/.exec(status)?.[1]),
      ph,
      "the restored root's parent is snapback-init",
    );
    assert.match(status, /NSpid:\s+\d+\s+\d+\s+1\n/, 'PID 1 of a pid namespace nested in the placeholder’s');
    await waitFor('snapback-init to adopt the restored root', async () =>
      (await readFile(state, 'utf8')).startsWith(`restored ${restored.namespacePid}`),
    );
    assert.equal(await readFile(`/proc/${ph}/root/data/before.txt`, 'utf8'), 'before\n');
    await assert.rejects(readFile(`/proc/${ph}/root/etc/doomed`), 'the deletion is applied');
    const first = await waitFor('the restored loop to write', () => counterIn(restored.restoredPid));
    assert.equal(first.secret, running.secret, 'the in-memory secret came back');
    assert.ok(
      first.i >= running.i,
      `continues from ${first.i}, not from 1 (checkpointed after ${running.i})`,
    );
    await waitFor(
      'the restored loop to count on',
      async () => ((await counterIn(restored.restoredPid))?.i ?? 0) > first.i + 2,
    );

    // The kubelet's SIGTERM reaches the restored workload, which traps it (exit 7): the container ends 7.
    await ctd.ctr('task', 'kill', '-s', 'SIGTERM', 'loop-ph');
    assert.equal(await ctd.exitCode('loop-ph'), 7);
  });

  it('a Python server that is its container PID 1 keeps its memory and its port, even in a plain sleep placeholder', async () => {
    const { ctd, agent } = suite;
    const src = await ctd.run('py-src', SERVER, { image: PYTHON_IMAGE });
    const answer = await waitFor('the server to answer', () => ask(src).catch(() => undefined), 30_000);
    const [secret, count] = answer.split(' ');
    assert.equal(count, '1');
    assert.equal(await ask(src), `${secret} 2`);
    await agent.client.checkpoint({ target: { pod: 'py-src' }, checkpointId: 'server' });
    await kill('py-src');

    const ph = await ctd.run('py-ph', ['sleep', '1000000'], { image: PYTHON_IMAGE });
    const restored = await agent.client.restore({ checkpointId: 'server', target: { pod: 'py-ph' } });
    assert.ok(await isRunning(restored.restoredPid));
    assert.equal(await ask(ph), `${secret} 3`, 'the same server, counting on, on its port in the new pod');
    assert.equal(await ask(ph), `${secret} 4`);
  });

  it('a tree under a tini-style init comes back whole', async () => {
    const { ctd, agent } = suite;
    // The workload a session leader under a shell that stays PID 1 (as tini would), counting in /data.
    const src = await ctd.run('tree-src', [
      'sh',
      '-c',
      `mkdir -p /data; setsid sh -c '${LOOP()[2]!.replace('trap "exit 7" TERM; ', '')}' </dev/null >/dev/null 2>&1 & exec sleep 1000000`,
    ]);
    const running = await waitFor(
      'the tree to count',
      async () => ((await counterIn(src))?.i ?? 0) > 2 && counterIn(src),
    );
    await agent.client.checkpoint({ target: { pod: 'tree-src' }, checkpointId: 'tree' });
    await kill('tree-src');
    const mounts = await suite.initMounts('tree-ph');
    await ctd.run('tree-ph', suite.initCommand(['sleep', '1000000']), { mounts });
    const restored = await agent.client.restore({ checkpointId: 'tree', target: { pod: 'tree-ph' } });
    const first = await waitFor('the restored tree to count', () => counterIn(restored.restoredPid));
    assert.equal(first.secret, running.secret);
  });

  it('two restores of one checkpoint run side by side; emptyDir and /dev/shm contents come back in each', async () => {
    const { ctd, agent } = suite;
    const cache = await suite.emptyDir('vol-src', '/cache');
    const src = await ctd.run(
      'vol-src',
      ['sh', '-c', `echo kept > /cache/kept; echo shm > /dev/shm/kept; ${LOOP()[2]}`],
      { mounts: [cache] },
    );
    const running = await waitFor(
      'the loop to count',
      async () => ((await counterIn(src))?.i ?? 0) > 2 && counterIn(src),
    );
    const result = await agent.client.checkpoint({
      target: { pod: 'vol-src' },
      checkpointId: 'volumes',
    });
    const manifest = JSON.parse(await readFile(join(result.location, 'manifest.json'), 'utf8'));
    assert.deepEqual(
      manifest.workload.volumes
        .map((v: { mountpoint: string; kind: string }) => `${v.kind} ${v.mountpoint}`)
        .sort(),
      ['emptyDir /cache', 'shm /dev/shm'],
    );
    await kill('vol-src');
    const copies: number[] = [];
    for (const name of ['vol-a', 'vol-b']) {
      const mounts = await suite.initMounts(name, ['/cache']);
      await ctd.run(name, suite.initCommand(['sleep', '1000000']), { mounts });
      const restored = await agent.client.restore({ checkpointId: 'volumes', target: { pod: name } });
      copies.push(restored.restoredPid);
      assert.equal(
        await readFile(join(mounts[1]!.source, 'kept'), 'utf8'),
        'kept\n',
        `${name}: its own emptyDir holds the file`,
      );
      assert.equal(await readFile(`/proc/${restored.restoredPid}/root/dev/shm/kept`, 'utf8'), 'shm\n');
    }
    for (const pid of copies) {
      const first = await waitFor('each copy to count', () => counterIn(pid));
      assert.equal(first.secret, running.secret);
      await waitFor('each copy to count on', async () => ((await counterIn(pid))?.i ?? 0) > first.i + 1);
    }
    assert.ok(await Promise.all(copies.map(isRunning)).then((r) => r.every(Boolean)), 'side by side');
  });

  it('restores lazily: the workload runs before every page is in, then every page arrives', async () => {
    const { ctd, agent } = suite;
    const src = await ctd.run('lazy-src', LOOP());
    const running = await waitFor(
      'the loop to count',
      async () => ((await counterIn(src))?.i ?? 0) > 2 && counterIn(src),
    );
    await agent.client.checkpoint({ target: { pod: 'lazy-src' }, checkpointId: 'lazy' });
    await kill('lazy-src');
    const mounts = await suite.initMounts('lazy-ph');
    await ctd.run('lazy-ph', suite.initCommand(['sleep', '1000000']), { mounts });
    const first = await agent.client.restore({
      checkpointId: 'lazy',
      target: { pod: 'lazy-ph' },
      lazy: true,
    });
    assert.ok(first.pagesComplete, 'a lazy restore promises a pages-complete result');
    const complete = await first.pagesComplete;
    assert.ok((complete.durationsMs['pagesComplete'] ?? -1) >= 0);
    const counted = await waitFor('the lazily restored loop to count', () => counterIn(first.restoredPid));
    assert.equal(counted.secret, running.secret);
  });
});
