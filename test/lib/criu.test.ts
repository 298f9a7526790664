/** The real CRIU, through snapback's own wrapper: `criu check`, and a tiny process dumped and restored. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCriu, defaultCriuSettings, readImagePids } from '../../src/lib/criu/index.js';
import { runTool } from '../../src/lib/tools/index.js';
import { childrenOf, isRunning, killTree, readNumber, waitFor } from '../helpers/proc.js';

const criu = createCriu(process.env['SNAPBACK_CRIU'] ?? 'criu', defaultCriuSettings, runTool);

describe('criu wrapper (real CRIU)', () => {
  let dir: string;
  const pids: number[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapback-criu-'));
  });
  after(async () => {
    for (const pid of pids) killTree(pid);
    await rm(dir, { recursive: true, force: true });
  });

  it('reports version 4.2 or newer and passes criu check', async () => {
    const version = await criu.version();
    const [major, minor] = version.split('.').map(Number) as [number, number];
    assert.ok(major > 4 || (major === 4 && minor >= 2), `criu ${version} is older than 4.2`);
    await criu.check();
  });

  it('dumps and restores a counting process, which resumes where it was', async () => {
    const counter = join(dir, 'counter');
    // The counter lives in the shell's memory; the file only shows it. A fresh start would begin at 1.
    const script = `i=0; while :; do i=$((i+1)); echo $i > ${counter}.tmp; mv ${counter}.tmp ${counter}; sleep 0.05; done`;
    const unshare = spawn('unshare', ['--pid', '--fork', 'setsid', 'sh', '-c', script], {
      detached: true,
      stdio: 'ignore',
    });
    unshare.unref();
    pids.push(unshare.pid!);
    const [nsInit] = await waitFor(
      'the namespace init',
      async () => (await childrenOf(unshare.pid!))[0] !== undefined && childrenOf(unshare.pid!),
    );
    pids.push(nsInit!);
    await waitFor('the counter to pass 10', async () => ((await readNumber(counter)) ?? 0) > 10);

    const images = join(dir, 'images');
    await mkdir(images);
    await criu.dump({
      pid: nsInit!,
      imagesDir: images,
      logFile: join(images, 'dump.log'),
      leaveRunning: false,
    });
    const atDump = (await readNumber(counter))!;
    // The image's pids are those inside the workload's PID namespace: its init is 1.
    const imagePids = await readImagePids(images);
    assert.equal(imagePids[0], 1, `pids in pstree.img: ${imagePids.join(',')}`);
    await waitFor('the dumped tree to exit', async () => !(await isRunning(nsInit!)));

    const restored = await criu.restore({
      imagesDir: images,
      logFile: join(images, 'restore.log'),
      pidFile: join(dir, 'restored.pid'),
    });
    pids.push(restored);
    assert.ok(await isRunning(restored));
    // The first value written after the restore tells: a resumed shell writes atDump+1, a fresh one 1.
    const next = await waitFor('the counter to change', async () => {
      const n = await readNumber(counter);
      return n !== undefined && n !== atDump && n;
    });
    assert.equal(next, atDump + 1, `counter went from ${atDump} to ${next}`);
  });

  it('fails with a clear error naming the command and the tail of the log', async () => {
    const images = join(dir, 'bad');
    await mkdir(images);
    await assert.rejects(
      criu.dump({
        pid: 999_999_99,
        imagesDir: images,
        logFile: join(images, 'dump.log'),
        leaveRunning: true,
      }),
      (err: Error) => /criu dump -t 99999999 .* exited with status 1:\n/s.test(err.message),
    );
  });
});
