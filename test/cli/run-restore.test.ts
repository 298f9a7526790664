/**
 * `snapback run --restore latest`, the one-machine form of a replacement pod's restore, through the CLI
 * with a real agent and CRIU: with nothing to restore it starts the command; once the workload has a
 * checkpoint, the same command line brings it back from there, its memory intact.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type AgentProcess,
  python,
  resetCounter,
  startAgent,
  workloadHash,
  workloadScript,
} from '../helpers/agent-process.js';
import { isRunning, readNumber, waitFor } from '../helpers/proc.js';
import { runCli } from '../helpers/snapback-cli.js';

describe('snapback run --restore latest (real agent, real CRIU)', () => {
  let agent: AgentProcess;
  before(async () => {
    agent = await startAgent();
  });
  after(() => agent.shutdown());

  it('starts the command when there is no checkpoint, and restores the latest one when there is', async () => {
    const out = join(agent.dir, 'loop.counter');
    const run = () =>
      runCli([
        'run',
        '--agent',
        agent.address,
        '--name',
        'loop',
        '--restore',
        'latest',
        '--',
        python,
        workloadScript,
        '4',
        out,
      ]);
    const first = await run();
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /no checkpoint of loop fits: starting loop cold\nstarted loop \(pid \d+\)/);
    await waitFor('the workload to count', async () => ((await readNumber(out)) ?? 0) > 3, 30_000);
    const hash = await workloadHash(out);
    // The checkpoint holds the counter as it was at the dump: no less than now. (What the workload counted
    // between the dump and its stop is not in it.)
    const before = (await readNumber(out))!;
    await agent.client.checkpoint({ target: { pod: 'loop' }, checkpointId: 'loop-1', leaveRunning: false });
    const pid = Number(/pid (\d+)/.exec(first.stdout)?.[1]);
    await waitFor('the workload to stop', async () => !(await isRunning(pid)));

    await resetCounter(out);
    const second = await run();
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^restored loop from loop-1 \(pid \d+\)\n$/);
    const resumed = await waitFor(
      'the restored counter',
      async () => ((await readNumber(out)) ?? 0) > 0 && readNumber(out),
    );
    assert.ok(resumed > before, `the counter resumed at ${resumed}, not from 1 (it was at ${before})`);
    assert.equal(await workloadHash(out), hash, 'the memory came back');
  });
});
