/**
 * Checkpoints through the CLI as a user meets them: the id a target derives (the events' rule), a second
 * checkpoint of it reused and said so, `list` and `inspect` for people and `--json` for scripts, `delete`,
 * a restore that would listen on a port its original holds, and an agent logging to a file.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkpointIdOfRequest } from '../../src/events/checkpoint-id.js';
import { checkpointIdOf } from '../../src/ids.js';
import { type AgentProcess, startAgent } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/proc.js';
import { type CliRun, runCli } from '../helpers/snapback-cli.js';

/** A TCP port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('snapback checkpoint / list / inspect / delete / restore', () => {
  let agent: AgentProcess;
  const cli = (...args: string[]): Promise<CliRun> => runCli(args, { SNAPBACK_AGENT: agent.address });
  before(async () => {
    agent = await startAgent();
    const run = await cli('run', '--name', 'counter', '--', 'sh', '-c', 'while :; do sleep 0.1; done');
    assert.equal(run.code, 0, run.stderr);
  });
  after(async () => {
    await agent.shutdown();
  });

  it('derives the id by the events’ rule, and says a second checkpoint of it was reused', async () => {
    const target = { namespace: 'default', pod: 'counter', container: '' };
    const derived = checkpointIdOf(target);
    assert.match(derived, /^counter-[0-9a-f]{10}$/, 'the shape of event-derived ids');
    assert.notEqual(derived, checkpointIdOfRequest({ ...target, source: '/s', id: '1' }));

    const first = await cli('checkpoint', '--target', 'counter');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`^checkpoint ${derived} written: `));
    const again = await cli('checkpoint', '--target', 'counter');
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stdout,
      new RegExp(`^checkpoint ${derived} already existed \\(taken .*\\): reused, nothing dumped$`, 'm'),
    );
    assert.match(again.stdout, /--replace takes a new checkpoint/);
    assert.doesNotMatch(
      again.stdout,
      /criuDump/,
      "the earlier checkpoint's durations are not shown as this one's",
    );
    const json = JSON.parse((await cli('checkpoint', '--target', 'counter', '--json')).stdout);
    assert.equal(json.reused, true);
    const replaced = await cli('checkpoint', '--target', 'counter', '--replace', '--json');
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.equal(JSON.parse(replaced.stdout).reused, false);
    assert.notEqual(JSON.parse(replaced.stdout).version, json.version);
  });

  it('list has a header and the workload each checkpoint was taken of; inspect a summary', async () => {
    assert.equal((await cli('checkpoint', '--target', 'counter', '--id', 'named')).code, 0);
    const list = await cli('list');
    assert.equal(list.code, 0, list.stderr);
    const [header, ...rows] = list.stdout.trimEnd().split('\n');
    assert.match(header!, /^ID +WORKLOAD +NODE +SIZE +CREATED$/);
    assert.ok(
      rows.some((r) => /^named +counter +test-node +[\d.]+ [KM]iB +\d+ s ago$/.test(r)),
      list.stdout,
    );
    assert.deepEqual(
      (
        JSON.parse((await cli('list', '--json')).stdout) as { checkpoints: { workload: string }[] }
      ).checkpoints.map((c) => c.workload),
      ['counter', 'counter'],
    );

    const summary = await cli('inspect', '--id', 'named');
    assert.equal(summary.code, 0, summary.stderr);
    for (const line of [
      /^checkpoint +named \(version [0-9a-f-]{36}\)$/m,
      /^workload +counter, process runtime: sh -c while :; do sleep 0\.1; done$/m,
      /^node +test-node$/m,
      /^size +[\d.]+ [KM]iB in \d+ files$/m,
      /^created +\S+ \(\d+ s ago\)$/m,
      /^phases +inspect [\d.]+ ms, .*criuDump [\d.]+ ms/m,
    ])
      assert.match(summary.stdout, line);
    const manifest = JSON.parse((await cli('inspect', '--id', 'named', '--json')).stdout);
    assert.equal(manifest.checkpointId, 'named');
    assert.ok(Array.isArray(manifest.files));
  });

  it('delete removes checkpoints, and says which were not there', async () => {
    const deleted = await cli('delete', 'named', 'nope');
    assert.equal(deleted.code, 3);
    assert.equal(deleted.stdout, 'deleted named\n');
    assert.match(deleted.stderr, /^snapback delete: NOT_FOUND: no checkpoint with id nope$/m);
    const ignored = await cli('delete', 'named', '--ignore-not-found');
    assert.equal(ignored.code, 0, ignored.stderr);
    assert.equal(ignored.stdout, 'named was not there\n');
    assert.doesNotMatch((await cli('list')).stdout, /^named /m);
  });

  it('refuses a restore beside a server that holds its port, naming both, unless the port may be shared', async () => {
    const port = await freePort();
    const server = ['/usr/bin/python3', '-m', 'http.server', String(port), '--bind', '127.0.0.1'];
    const run = await cli('run', '--name', 'web', '--json', '--', ...server);
    assert.equal(run.code, 0, run.stderr);
    const pid = (JSON.parse(run.stdout) as { pid: number }).pid;
    await waitFor('the server to answer', () =>
      fetch(`http://127.0.0.1:${port}/`).then(
        (r) => r.ok,
        () => false,
      ),
    );
    assert.equal((await cli('checkpoint', '--target', 'web', '--id', 'web-1')).code, 0);
    assert.match(
      (await cli('inspect', '--id', 'web-1')).stdout,
      new RegExp(`^listens on +127\\.0\\.0\\.1:${port}$`, 'm'),
    );

    const refused = await cli('restore', '--id', 'web-1', '--name', 'web-2');
    assert.equal(refused.code, 5, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(`listens on 127\\.0\\.0\\.1:${port}, which workload web \\(pid ${pid}\\) holds`),
    );
    assert.match(refused.stderr, /`snapback stop web`.*--allow-port-clash/);
    // Allowed, it reaches CRIU, which cannot bind what a server without SO_REUSEPORT holds: said in words.
    const allowed = await cli('restore', '--id', 'web-1', '--name', 'web-2', '--allow-port-clash');
    assert.equal(allowed.code, 5, allowed.stderr);
    assert.match(
      allowed.stderr,
      new RegExp(`criu restore failed: 127\\.0\\.0\\.1:${port}, where the workload listened, is taken`),
    );

    assert.equal((await cli('stop', 'web')).code, 0);
    const restored = await cli('restore', '--id', 'web-1', '--name', 'web-2');
    assert.equal(restored.code, 0, restored.stderr);
    assert.ok((await fetch(`http://127.0.0.1:${port}/`)).ok, 'the copy serves on the port');
  });
});

describe('snapback agent --log-file', () => {
  it('writes its log to the file, and to the terminal only the line saying where it listens', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'snapback-logfile-'));
    const logFile = join(dir, 'logs', 'agent.log');
    const agent = await startAgent({ dir, args: ['--log-file', logFile] });
    try {
      assert.equal(agent.logs(), '', 'nothing on stderr');
      const log = await readFile(logFile, 'utf8');
      const entries = log
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as { msg: string });
      assert.ok(
        entries.some((e) => e.msg === 'agent listening'),
        log,
      );
    } finally {
      await agent.shutdown();
    }
  });
});
