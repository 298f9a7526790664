/** The CLI clients end to end: run → checkpoint --json → restore --json, and usage errors. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AgentProcess, python, startAgent, workloadScript } from '../helpers/agent-process.js';
import { isRunning, readNumber, waitFor } from '../helpers/proc.js';
import { type CliRun, runCli } from '../helpers/snapback-cli.js';

function cli(...args: string[]): Promise<CliRun> {
  return runCli(args);
}

describe('snapback CLI against a real agent', () => {
  let agent: AgentProcess;
  before(async () => {
    agent = await startAgent();
  });
  after(async () => {
    await cli('run', '--agent', agent.address, '--name', 'noop', '--', 'true').catch(() => {});
    await agent.stop();
    await agent.cleanup();
  });

  it('runs, checkpoints and restores a workload, printing JSON', async () => {
    const out = join(agent.dir, 'cli.counter');
    const run = await cli(
      'run',
      '--agent',
      agent.address,
      '--name',
      'cli-w',
      '--json',
      '--',
      python,
      workloadScript,
      '4',
      out,
    );
    assert.equal(run.code, 0, run.stderr);
    const started = JSON.parse(run.stdout) as { pid: number; name: string };
    await waitFor('the workload to count', async () => ((await readNumber(out)) ?? 0) > 3, 30_000);

    const ckpt = await cli(
      'checkpoint',
      '--agent',
      agent.address,
      '--target',
      'cli-w',
      '--id',
      'cli-1',
      '--stop',
      '--json',
    );
    assert.equal(ckpt.code, 0, ckpt.stderr);
    const result = JSON.parse(ckpt.stdout) as Record<string, unknown>;
    assert.equal(result['checkpointId'], 'cli-1');
    assert.ok(typeof result['sizeBytes'] === 'number' && result['sizeBytes'] > 4 * 1024 * 1024);
    assert.ok(typeof (result['durations'] as Record<string, number>)['criuDump'] === 'number');
    await waitFor('the stopped workload to exit', async () => !(await isRunning(started.pid)));

    const restore = await cli(
      'restore',
      '--agent',
      agent.address,
      '--id',
      'cli-1',
      '--name',
      'cli-back',
      '--json',
    );
    assert.equal(restore.code, 0, restore.stderr);
    const restored = JSON.parse(restore.stdout) as {
      restoredPid: number;
      workload: string;
      durations: Record<string, number>;
    };
    assert.equal(restored.workload, 'cli-back');
    assert.ok(await isRunning(restored.restoredPid));
    assert.ok(restored.durations['criuRestore']! > 0);

    const list = await cli('list', '--agent', agent.address, '--json');
    assert.deepEqual(
      (JSON.parse(list.stdout) as { checkpoints: { checkpointId: string }[] }).checkpoints.map(
        (c) => c.checkpointId,
      ),
      ['cli-1'],
    );
    const inspect = await cli('inspect', '--agent', agent.address, '--id', 'cli-1', '--json');
    assert.equal((JSON.parse(inspect.stdout) as { checkpointId: string }).checkpointId, 'cli-1');
    process.kill(restored.restoredPid, 'SIGKILL');
  });

  it('exits 2 naming each missing or bad flag', async () => {
    const missing = await cli('checkpoint', '--agent', agent.address);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--target: is required/);
    const bad = await cli('restore', '--id', 'x', '--timeout', 'soon', '--frobnicate');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--timeout: must be a number/);
    assert.match(bad.stderr, /--frobnicate: unknown option/);
    const noCommand = await cli('run', '--name', 'x');
    assert.equal(noCommand.code, 2);
    assert.match(noCommand.stderr, /command/);
  });

  it('says which checkpoint is missing, with a non-zero exit', async () => {
    const result = await cli('restore', '--agent', agent.address, '--id', 'nope');
    assert.equal(result.code, 3);
    assert.match(result.stderr, /NOT_FOUND: no checkpoint with id nope/);
  });

  it('says no agent answers at an address, and how to start one; --json says it on stdout too', async () => {
    const result = await cli('list', '--agent', '127.0.0.1:1', '--timeout', '5');
    assert.equal(result.code, 8, result.stderr);
    assert.equal(
      result.stderr,
      'snapback list: UNAVAILABLE: no agent answers at 127.0.0.1:1 (connect ECONNREFUSED 127.0.0.1:1)' +
        ' — start one with `snapback agent --listen 127.0.0.1:1`\n',
    );
    const json = await cli('inspect', '--id', 'x', '--agent', '127.0.0.1:1', '--json');
    assert.equal(json.code, 8);
    const printed = JSON.parse(json.stdout) as { error: { code: string; message: string } };
    assert.equal(printed.error.code, 'UNAVAILABLE');
    assert.match(printed.error.message, /^no agent answers at 127\.0\.0\.1:1 /);
  });

  it('--json: a failure is one JSON object on stdout as well', async () => {
    const result = await cli('restore', '--agent', agent.address, '--id', 'nope', '--json');
    assert.equal(result.code, 3);
    assert.deepEqual(JSON.parse(result.stdout), {
      error: { code: 'NOT_FOUND', message: 'no checkpoint with id nope', phase: 'verify' },
    });
  });
});
