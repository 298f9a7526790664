/** The preemption fan-out on its own: bounded concurrency, input order, and late items reported, not run. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type FanOutOptions, fanOut } from '../../src/dispatch/fan-out.js';

const settings: FanOutOptions = {
  concurrency: 3,
  safetyMarginMs: 1_000,
  defaultBudgetMs: 60_000,
  minimumCallMs: 500,
};

describe('fanOut', () => {
  it('never runs more than `concurrency` calls at once, and answers in input order', async () => {
    let running = 0;
    let most = 0;
    let finished = 0;
    const waiting: Array<() => void> = [];
    const items = Array.from({ length: 10 }, (_, i) => i);
    const done = fanOut(items, settings, async (item) => {
      running++;
      most = Math.max(most, running);
      // Each call waits until the test lets it go: calls overlap as much as the limit allows.
      await new Promise<void>((resolve) => waiting.push(resolve));
      running--;
      finished++;
      return item * 2;
    });
    while (finished < items.length) {
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(running <= settings.concurrency, `${running} calls at once`);
      // The latest call goes first: results must still come back in input order.
      waiting.pop()?.();
    }
    const results = await done;
    assert.equal(most, settings.concurrency);
    assert.deepEqual(
      results.map((r) => (r.ok ? r.value : undefined)),
      items.map((i) => i * 2),
    );
  });

  it('reports an item whose turn comes too close to the deadline, and does not run it', async () => {
    let clock = 0;
    const ran: number[] = [];
    const results = await fanOut(
      [1, 2, 3],
      { ...settings, concurrency: 1, deadline: new Date(3_000), now: () => clock },
      async (item, deadline) => {
        ran.push(item);
        assert.equal(deadline.getTime(), 2_000, 'the deadline less the safety margin');
        clock += 800; // each call uses 800 ms: the third finds 400 ms left, under the 500 ms minimum
        return item;
      },
    );
    assert.deepEqual(ran, [1, 2]);
    assert.deepEqual(results, [
      { ok: true, value: 1 },
      { ok: true, value: 2 },
      { ok: false, tooLate: true, leftMs: 400 },
    ]);
  });
});
