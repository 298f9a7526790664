/**
 * `snapback demo | head` and a closed terminal: the demo, run as users run it (its own process), stops
 * the agent, the functions and the model server it started when its output is closed (EPIPE: Node ignores
 * SIGPIPE) or when it gets SIGHUP — not only on Ctrl-C.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isRunning, processesMentioning, waitFor } from '../helpers/proc.js';
import { spawnCli } from '../helpers/snapback-cli.js';

/**
 * Starts the demo in `dir`, waits until its model server runs, does `interrupt` to it, and returns its exit
 * status and the model server's pid.
 */
async function interruptedDemo(
  dir: string,
  interrupt: (demo: ReturnType<typeof spawnCli>) => void,
): Promise<{ code: number | null; pid: number; stderr: string }> {
  const demo = spawnCli(['demo', '--model', 'tiny', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  demo.stdout!.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  demo.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
  const pid = await waitFor(
    'the model server to start',
    () => Number(/pid (\d+); waiting/.exec(stdout)?.[1]) || (demo.exitCode === null ? undefined : -1),
    120_000,
  );
  assert.ok(pid > 0, `the demo ended early: ${stdout}${stderr}`);
  interrupt(demo);
  return { code: await exited, pid, stderr };
}

describe('snapback demo, interrupted from outside', { timeout: 300_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapback-demo-signals-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('its output closed (`| head`): it stops everything it started', async () => {
    const run = await interruptedDemo(join(dir, 'epipe'), (demo) => demo.stdout!.destroy());
    assert.equal(run.code, 7, run.stderr);
    assert.match(run.stderr, /CANCELLED: its output was closed \(EPIPE\)/);
    assert.equal(await isRunning(run.pid), false);
    assert.deepEqual(await processesMentioning(join(dir, 'epipe')), []);
  });

  it('SIGHUP (the terminal closed): it stops everything it started', async () => {
    const run = await interruptedDemo(join(dir, 'hup'), (demo) => demo.kill('SIGHUP'));
    assert.equal(run.code, 7, run.stderr);
    assert.equal(await isRunning(run.pid), false);
    assert.deepEqual(await processesMentioning(join(dir, 'hup')), []);
  });
});
