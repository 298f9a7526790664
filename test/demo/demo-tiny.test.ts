/**
 * `snapback demo --model tiny` end to end, for real: a real agent and real functions (the CLI, as users run
 * them), real CRIU, the pure-Python stand-in model server (no torch needed). Also: an interrupted demo and a
 * failing one stop everything they started.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { functions } from '../../functions/index.js';
import { main } from '../../src/cli/main.js';
import type { DemoResult } from '../../src/demo/report.js';
import { isRunning, processesMentioning } from '../helpers/proc.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function demo(argv: string[], abortWhen?: (stderr: string) => boolean): Promise<Run> {
  const [stdout, stderr] = [new PassThrough(), new PassThrough()];
  let out = '';
  let err = '';
  const controller = new AbortController();
  stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  stderr.on('data', (c: Buffer) => {
    err += c.toString();
    if (abortWhen?.(err) && !controller.signal.aborted)
      controller.abort(new Error('interrupted by the test'));
  });
  const io = { stdout, stderr, env: {}, signal: controller.signal };
  const code = await main(['demo', ...argv], io, functions);
  return { code, stdout: out, stderr: err };
}

describe('snapback demo --model tiny', { timeout: 180_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapback-demo-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs every step, checks each, prints the table, stops everything', async () => {
    const run = await demo(['--model', 'tiny', '--dir', join(dir, 'ok'), '--json']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as DemoResult;
    for (const step of ['[1/5]', '[2/5]', '[3/5]', '[4/5]', '[5/5]'])
      assert.ok(run.stderr.includes(step), step);
    assert.match(run.stderr, /← io\.snapback\.checkpoint\.completed {2}default\/model-server: /);
    assert.match(run.stderr, /← io\.snapback\.preemption\.handled {2}demo-node: 1 checkpointed/);
    assert.match(run.stderr, /← io\.snapback\.restore\.completed {2}default\/model-server: pid \d+/);
    // The last step: `snapback run --restore latest` brings the server back instead of starting it.
    assert.match(run.stderr, /\$ snapback run .*--restore latest -- /);
    assert.match(
      run.stderr,
      /restored model-server from \S+ \(pid \d+\)\n.*first correct answer .* after the command; counter \d+ continues/s,
    );
    assert.match(run.stderr, /launch → first correct answer\s+cold start\s+restore\s+lazy-pages restore/);
    assert.match(run.stderr, /everything the demo started is stopped/);
    assert.ok(result.coldStartMs > 0 && result.restore.firstAnswerMs > 0);
    assert.equal(result.proof.counterAfterRestore, result.proof.counterAtCheckpoint + 1);
    assert.ok(result.checkpoint.sizeBytes > 1024 * 1024);
    for (const phase of [
      'inspect',
      'preHook',
      'criuDump',
      'manifest',
      'postHook',
      'promote',
      'dispatch',
      'total',
    ])
      assert.ok(result.checkpoint.durations[phase] !== undefined, `checkpoint ${phase}`);
    for (const phase of ['verify', 'criuRestore', 'postHook', 'dispatch', 'total'])
      assert.ok(result.restore.durations[phase] !== undefined, `restore ${phase}`);
    // The server slept before the checkpoint: its 64 MiB KV cache is not in the image.
    assert.match(run.stderr, /--pre-checkpoint 'http POST :\d+\/sleep\?level=1'/);
    assert.ok(
      result.checkpoint.sizeBytes < 48 * 1024 * 1024,
      `image of ${result.checkpoint.sizeBytes} bytes`,
    );
    // The lazy column: measured when the agent can, or says why not.
    assert.ok(result.lazyRestore !== undefined || result.lazyNote !== undefined);
    assert.equal(await isRunning(result.restore.restoredPid), false);
    assert.deepEqual(await processesMentioning(join(dir, 'ok')), []);
    // The checkpoint is removed unless --keep.
    assert.deepEqual(
      (await readdir(join(dir, 'ok', 'checkpoints')).catch(() => [])).filter((e) => e !== 'tmp'),
      [],
    );
  });

  it('interrupted (Ctrl-C) after the model server started: exits CANCELLED, nothing left running', async () => {
    const run = await demo(['--model', 'tiny', '--dir', join(dir, 'cancel'), '--json'], (err) =>
      /serving: counter/.test(err),
    );
    assert.equal(run.code, 7, run.stderr);
    const pid = Number(/pid (\d+); waiting/.exec(run.stderr)?.[1]);
    assert.ok(pid > 0);
    assert.equal(await isRunning(pid), false);
    assert.deepEqual(await processesMentioning(join(dir, 'cancel')), []);
  });

  it('a model server that cannot start fails the demo, which still stops everything', async () => {
    const run = await demo([
      '--model',
      'tiny',
      '--dir',
      join(dir, 'fail'),
      '--python',
      '/nonexistent/python3',
    ]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /snapback demo: /);
    assert.deepEqual(await processesMentioning(join(dir, 'fail')), []);
  });
});
