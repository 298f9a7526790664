/**
 * The process runtime's record of a workload names its process by pid and start time: once the workload
 * has ended, a pid the kernel gave to another process is never taken for it — not listed as running, not
 * inspected (so never dumped), never killed by a stop. Real processes, through the real launcher.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { projectRoot } from '../../../src/cli/self.js';
import { SnapbackError } from '../../../src/errors.js';
import { createProcessRuntime, type ProcessRuntime } from '../../../src/lib/process/index.js';
import { startTimeOf } from '../../../src/lib/procfs/index.js';
import { isRunning, waitFor } from '../../helpers/proc.js';

const launcher = join(projectRoot(), '.tools/bin/snapback-no-io-uring');
/** As the agent finds it: SNAPBACK_PROCESS_INIT, else the one `make setup` builds. */
const init = process.env['SNAPBACK_PROCESS_INIT'] ?? join(projectRoot(), '.tools/bin/snapback-init');
const missing =
  process.getuid?.() !== 0
    ? 'unshare --pid needs root'
    : existsSync(launcher)
      ? false
      : 'snapback-no-io-uring missing: run make setup';

describe('process runtime: a workload is its pid and that pid’s start time', { skip: missing }, () => {
  let dir: string;
  let runtime: ProcessRuntime;
  const strangers: ChildProcess[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapback-process-'));
    runtime = createProcessRuntime({ stateDir: dir, noIoUringLauncher: launcher, init, baseEnv: {} });
  });
  after(async () => {
    for (const stranger of strangers) stranger.kill('SIGKILL');
    for (const w of await runtime.list()) if (w.running) await runtime.stopByName(w.name);
    await rm(dir, { recursive: true, force: true });
  });

  it('records the start time of the process it started, and knows it as running', async () => {
    const started = await runtime.start({ name: 'fresh', command: ['sleep', '60'], cwd: dir, env: {} });
    assert.equal(started.running, true);
    assert.equal(started.startTime, await startTimeOf(started.pid));
    const onDisk = JSON.parse(await readFile(join(dir, 'workloads/fresh/workload.json'), 'utf8'));
    assert.equal(onDisk.startTime, started.startTime);
    await runtime.stopByName('fresh');
    await waitFor('the workload to end', async () => !(await isRunning(started.pid)));
  });

  it('takes a reused pid for another process: not running, not inspected, not killed', async () => {
    await runtime.start({ name: 'ended', command: ['sleep', '60'], cwd: dir, env: {} });
    await runtime.stopByName('ended');
    // The kernel gives the ended workload's pid to someone else: here, a process of the test's own.
    const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
    strangers.push(stranger);
    const pid = await waitFor('the stranger to start', () => stranger.pid);
    const file = join(dir, 'workloads/ended/workload.json');
    const record = JSON.parse(await readFile(file, 'utf8'));
    await writeFile(file, JSON.stringify({ ...record, pid }));
    assert.notEqual(await startTimeOf(pid), record.startTime);

    const listed = (await runtime.list()).find((w) => w.name === 'ended');
    assert.equal(listed?.running, false);
    await assert.rejects(
      runtime.inspect({ namespace: 'default', pod: 'ended' }),
      (err: unknown) =>
        err instanceof SnapbackError &&
        err.code === 'FAILED_PRECONDITION' &&
        /is not running/.test(err.message),
    );
    assert.equal((await runtime.stopByName('ended')).running, false);
    assert.ok(await isRunning(pid), 'the stranger was not killed');
    const again = await runtime.start({ name: 'ended', command: ['sleep', '60'], cwd: dir, env: {} });
    assert.equal(again.running, true, 'the name is free again');
  });

  it('a record without a start time (written before they were kept) names no running process', async () => {
    const old = await runtime.start({ name: 'legacy', command: ['sleep', '60'], cwd: dir, env: {} });
    const file = join(dir, 'workloads/legacy/workload.json');
    const { startTime: _, ...withoutStartTime } = JSON.parse(await readFile(file, 'utf8'));
    await writeFile(file, JSON.stringify(withoutStartTime));
    assert.equal((await runtime.list()).find((w) => w.name === 'legacy')?.running, false);
    process.kill(old.pid, 'SIGKILL');
  });
});
