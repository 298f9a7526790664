/**
 * Hooks under containerd (real containerd, runc, CRIU; the agent as users run it): a server listening on
 * its container's loopback only — which nothing in the node's network namespace can reach — is put to
 * sleep before the dump and woken after it, and the copy restored into a placeholder is woken there, all
 * with nothing of snapback in its image; a command hook sees the container's files and processes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { containerdMissing, PYTHON_IMAGE } from '../../helpers/containerd.js';
import { type ContainerdSuite, startContainerdSuite } from '../../helpers/containerd-suite.js';
import { hookServerScript, hooksMessage, type ServerState } from '../../helpers/hook-server.js';
import { waitFor } from '../../helpers/proc.js';

const execFileAsync = promisify(execFile);
const missing = containerdMissing();
const MIB = 1 << 20;
const CACHE_MIB = 64;
/** A port nothing on this machine listens on outside the container (checked). */
const PORT = 18_089;

/** GET /state from inside the network namespace of `pid`. */
async function stateIn(pid: number): Promise<ServerState> {
  const { stdout } = await execFileAsync('nsenter', [
    '-t',
    String(pid),
    '-n',
    'curl',
    '-sf',
    `http://127.0.0.1:${PORT}/state`,
  ]);
  return JSON.parse(stdout) as ServerState;
}

/** Whether the node's own loopback answers on the port. */
function reachableFromNode(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(PORT, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('hooks under containerd: inside the container’s namespaces (real containerd, runc, CRIU)', {
  skip: missing,
}, () => {
  let suite: ContainerdSuite;
  before(async () => {
    suite = await startContainerdSuite();
  });
  after(() => suite?.stop());

  it('sleeps the server in its own network namespace before the dump, wakes it after, and wakes the restored copy in its placeholder', async () => {
    const { ctd, agent } = suite;
    const script = await readFile(hookServerScript, 'utf8');
    const src = await ctd.run('hooked-src', ['python3', '-c', script, String(PORT), String(CACHE_MIB)], {
      image: PYTHON_IMAGE,
    });
    const { secret } = await waitFor(
      'the server to answer',
      () => stateIn(src).catch(() => undefined),
      30_000,
    );
    assert.equal(
      await reachableFromNode(),
      false,
      "the server is reachable only in its container's namespace",
    );

    const hooks = hooksMessage(PORT, { pre: 'http POST :{PORT}/sleep', post: 'http POST :{PORT}/wake_up' });
    const result = await agent.client.checkpoint({
      target: { pod: 'hooked-src' },
      checkpointId: 'hooked',
      hooks,
    });
    assert.ok(
      Number(result.sizeBytes) < (CACHE_MIB / 2) * MIB,
      `${result.sizeBytes} bytes: the cache was dropped before the dump`,
    );
    const original = await stateIn(src);
    assert.equal(original.asleep, false, 'woken once the dump let it run');
    assert.deepEqual(
      original.calls.map((c) => c.path),
      ['/sleep', '/wake_up'],
    );
    await ctd.ctr('task', 'kill', '-s', 'SIGKILL', 'hooked-src');
    await ctd.exitCode('hooked-src');

    const mounts = await suite.initMounts('hooked-ph');
    const ph = await ctd.run('hooked-ph', suite.initCommand(['sleep', '1000000']), {
      image: PYTHON_IMAGE,
      mounts,
    });
    await waitFor('snapback-init to wait', async () =>
      (await readFile(`${mounts[0]!.source}/state`, 'utf8').catch(() => '')).startsWith('waiting'),
    );
    // No hooks in the request: the checkpoint's own wake the restored server.
    const restored = await agent.client.restore({ checkpointId: 'hooked', target: { pod: 'hooked-ph' } });
    assert.ok((restored.durationsMs['postHook'] ?? -1) >= 0);
    const copy = await stateIn(ph);
    assert.equal(copy.secret, secret, 'the same server');
    assert.equal(copy.asleep, false, 'woken in the placeholder before the restore was reported');
    assert.equal(copy.cacheBytes, CACHE_MIB * MIB);
    assert.deepEqual(
      copy.calls.map((c) => c.path),
      ['/sleep', '/wake_up'],
    );
  });

  it('a command hook runs as the container sees it: its files, its processes, its hostname', async () => {
    const { ctd, agent } = suite;
    const src = await ctd.run('exec-src', ['sleep', '1000000'], { image: PYTHON_IMAGE });
    const record = 'echo "$(hostname) $(tr "\\0" " " < /proc/1/cmdline)" > /tmp/exec-hook';
    const hooks = hooksMessage(PORT, { pre: `exec ["sh","-c",${JSON.stringify(record)}] timeout=10s` });
    await agent.client.checkpoint({ target: { pod: 'exec-src' }, checkpointId: 'exec-hooked', hooks });
    const { stdout: hostname } = await execFileAsync('nsenter', ['-t', String(src), '-u', 'hostname']);
    assert.equal(
      (await readFile(`/proc/${src}/root/tmp/exec-hook`, 'utf8')).trim(),
      `${hostname.trim()} sleep 1000000`,
      "written in the container's files, with its hostname, its PID 1 the container's own",
    );
  });
});
