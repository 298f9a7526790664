/**
 * `snapback ps` and `snapback stop` against a real agent, and a workload's pid as users treat it: `kill PID`
 * ends it (its init forwards SIGTERM to the command), `stop` gives SIGTERM a grace period before SIGKILL —
 * for a restored copy as for the original.
 */
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AgentProcess, startAgent } from '../helpers/agent-process.js';
import { isRunning, waitFor } from '../helpers/proc.js';
import { type CliRun, runCli } from '../helpers/snapback-cli.js';

interface PsRow {
  name: string;
  pid: number;
  running: boolean;
  restoredFrom?: string;
}

describe('snapback ps / stop, and kill PID', () => {
  let agent: AgentProcess;
  const cli = (...args: string[]): Promise<CliRun> => runCli(args, { SNAPBACK_AGENT: agent.address });
  /** A shell loop that, on SIGTERM, writes `marker` and exits 0. */
  const polite = (marker: string) => [
    'sh',
    '-c',
    `trap 'echo TERM > ${marker}; exit 0' TERM; while :; do sleep 0.1; done`,
  ];
  const run = async (name: string, command: string[]): Promise<number> => {
    const started = await cli('run', '--name', name, '--json', '--', ...command);
    assert.equal(started.code, 0, started.stderr);
    return (JSON.parse(started.stdout) as { pid: number }).pid;
  };
  const ps = async (...flags: string[]): Promise<PsRow[]> => {
    const listed = await cli('ps', '--json', ...flags);
    assert.equal(listed.code, 0, listed.stderr);
    return (JSON.parse(listed.stdout) as { workloads: PsRow[] }).workloads;
  };

  before(async () => {
    agent = await startAgent();
  });
  after(async () => {
    await agent.shutdown();
  });

  it('kill PID ends a workload that has no SIGTERM handler of its own', async () => {
    const pid = await run('sleeper', ['sleep', '600']);
    process.kill(pid, 'SIGTERM');
    await waitFor('the workload to end on SIGTERM', async () => !(await isRunning(pid)), 10_000);
    assert.equal((await ps('--all')).find((w) => w.name === 'sleeper')?.running, false);
  });

  it('ps lists running workloads under a header, --all the ended ones too', async () => {
    const pid = await run('lister', ['sleep', '600']);
    const table = await cli('ps');
    assert.equal(table.code, 0, table.stderr);
    const [header, ...rows] = table.stdout.trimEnd().split('\n');
    assert.match(header!, /^NAME +PID +STATUS +STARTED +RESTORED FROM +COMMAND$/);
    assert.ok(
      rows.some((r) => new RegExp(`^lister +${pid} +running +\\d+ s ago +- +sleep 600$`).test(r)),
      table.stdout,
    );
    assert.ok(!rows.some((r) => r.startsWith('sleeper ')), 'an ended workload is not listed without --all');
    assert.ok((await cli('ps', '--all')).stdout.split('\n').some((r) => /^sleeper +\d+ +ended /.test(r)));
    const stopped = await cli('stop', 'lister', '--grace-period', '0');
    assert.equal(stopped.stdout, 'stopped lister\n');
    assert.equal(await isRunning(pid), false);
  });

  it('stop sends SIGTERM first, and SIGKILL once the grace period is over', async () => {
    const marker = join(agent.dir, 'polite.term');
    const politePid = await run('polite', polite(marker));
    const stubbornPid = await run('stubborn', ['sh', '-c', "trap '' TERM; while :; do sleep 0.1; done"]);
    const started = performance.now();
    const stopped = await cli('stop', 'polite', 'stubborn', '--grace-period', '2');
    const tookMs = performance.now() - started;
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(stopped.stdout, 'stopped polite\nstopped stubborn\n');
    assert.equal((await readFile(marker, 'utf8')).trim(), 'TERM', 'the command itself got SIGTERM');
    assert.ok(tookMs >= 2_000, `the stubborn one had its 2 s of grace (${Math.round(tookMs)} ms)`);
    assert.equal(await isRunning(politePid), false);
    assert.equal(await isRunning(stubbornPid), false);
    const again = await cli('stop', 'polite', 'nope');
    assert.equal(again.code, 3);
    assert.equal(again.stdout, 'polite was not running\n');
    assert.match(again.stderr, /^snapback stop: NOT_FOUND: no workload named nope$/m);
  });

  it('a restored copy stops on SIGTERM as its original does', async () => {
    const marker = join(agent.dir, 'copied.term');
    await run('original', polite(marker));
    const checkpoint = await cli('checkpoint', '--target', 'original', '--id', 'copied', '--json');
    assert.equal(checkpoint.code, 0, checkpoint.stderr);
    const restored = await cli('restore', '--id', 'copied', '--name', 'copy', '--json');
    assert.equal(restored.code, 0, restored.stderr);
    const copyPid = (JSON.parse(restored.stdout) as { restoredPid: number }).restoredPid;
    assert.deepEqual(
      (await ps()).filter((w) => ['original', 'copy'].includes(w.name)).map((w) => [w.name, w.restoredFrom]),
      [
        ['original', undefined],
        ['copy', 'copied'],
      ],
    );
    assert.equal((await cli('stop', 'original', '--grace-period', '30')).code, 0);
    await rm(marker);
    process.kill(copyPid, 'SIGTERM');
    await waitFor('the copy to end on SIGTERM', async () => !(await isRunning(copyPid)), 10_000);
    assert.equal((await readFile(marker, 'utf8')).trim(), 'TERM', "the copy's command got SIGTERM");
  });

  it('stop without a name is a usage error', async () => {
    const result = await cli('stop');
    assert.equal(result.code, 2);
    assert.match(result.stderr, /NAME: name at least one workload to stop/);
  });
});
