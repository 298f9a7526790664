/**
 * The deadline planner as pure functions: what it reads of a pod (`snapback.io/priority`, memory, GPUs),
 * what it learns from completed checkpoints (a node's throughput, a target's size), and the plan — ranked
 * by priority then quickest first, skipping with the numbers what cannot finish before the deadline.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { createCheckpointHistory, MIN_SAMPLE_BYTES } from '../../src/dispatch/checkpoint-history.js';
import { bytesOf, planFactsOf, priorityOf } from '../../src/dispatch/plan-facts.js';
import { defaultPlanSettings, estimateOf, planCheckpoints } from '../../src/dispatch/planner.js';
import type { Located } from '../../src/dispatch/resolver.js';
import type { CheckpointOutcomeData } from '../../src/events/types.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

function annotated(annotations: Record<string, string>, resources?: object): V1Pod {
  return {
    metadata: { namespace: 'ml', name: 'p', annotations },
    spec: { containers: [{ name: 'main', ...(resources ? { resources } : {}) }] },
  };
}

function target(pod: string, priority: number, memoryBytes?: number, extra: object = {}): Located {
  return {
    namespace: 'ml',
    pod,
    container: 'main',
    node: 'node-a',
    agentAddress: '127.0.0.1:1',
    plan: { priority, gpuCount: 0, ...(memoryBytes === undefined ? {} : { memoryBytes }), ...extra },
  };
}

/** A plan at 1 GiB/s with `budgetS` seconds left, sizes from the targets' memory. */
function plan(targets: Located[], budgetS: number | undefined) {
  return planCheckpoints(targets, {
    budgetMs: budgetS === undefined ? undefined : budgetS * 1000,
    throughputBytesPerSecond: GiB,
    estimate: (t) => estimateOf(t, undefined, defaultPlanSettings),
  });
}

const names = (targets: readonly Located[]) => targets.map((t) => t.pod);

describe('what the planner reads of a pod', () => {
  it('snapback.io/priority: a whole number, 0 when absent, else why not, naming the annotation', () => {
    assert.deepEqual(priorityOf(annotated({})), { priority: 0 });
    assert.deepEqual(priorityOf(annotated({ 'snapback.io/priority': '10' })), { priority: 10 });
    assert.deepEqual(priorityOf(annotated({ 'snapback.io/priority': ' -5 ' })), { priority: -5 });
    for (const bad of ['high', '1.5', '', '1e3', '99999999999', '2000000000']) {
      const { priorityProblem } = priorityOf(annotated({ 'snapback.io/priority': bad }));
      assert.match(
        priorityProblem ?? '',
        /^annotation snapback\.io\/priority: ".*" must be a whole number/,
        bad,
      );
    }
  });

  it('Kubernetes quantities in bytes', () => {
    assert.equal(bytesOf('512Mi'), 512 * MiB);
    assert.equal(bytesOf('2G'), 2e9);
    assert.equal(bytesOf('1.5Gi'), 1.5 * GiB);
    assert.equal(bytesOf('1e9'), 1e9);
    assert.equal(bytesOf('129M'), 129e6);
    assert.equal(bytesOf(1024), 1024);
    for (const bad of ['lots', '1ki', '-1Gi', '', undefined])
      assert.equal(bytesOf(bad), undefined, String(bad));
  });

  it('memory: the request, else the limit; GPUs from nvidia.com/gpu', () => {
    const both = annotated(
      {},
      { requests: { memory: '4Gi' }, limits: { memory: '8Gi', 'nvidia.com/gpu': '2' } },
    );
    assert.deepEqual(planFactsOf(both, 'main'), { priority: 0, memoryBytes: 4 * GiB, gpuCount: 2 });
    const limitOnly = annotated({}, { limits: { memory: '8Gi' } });
    assert.equal(planFactsOf(limitOnly, 'main').memoryBytes, 8 * GiB);
    assert.deepEqual(planFactsOf(annotated({}), 'main'), { priority: 0, gpuCount: 0 });
  });
});

describe('what the functions learn from completed checkpoints', () => {
  const outcome = (sizeBytes: number, criuDump: number, more: Partial<CheckpointOutcomeData> = {}) =>
    ({
      checkpointId: 'c',
      namespace: 'ml',
      pod: 'p',
      container: 'main',
      node: 'node-a',
      sizeBytes,
      durations: { inspect: 500, criuDump, manifest: 0, total: criuDump + 500 },
      request: { source: 's', id: 'i' },
      ...more,
    }) satisfies CheckpointOutcomeData;

  it("a node's throughput: bytes over the capture phases, the median of the last measurements", () => {
    const history = createCheckpointHistory();
    assert.equal(history.throughputOf('node-a'), undefined);
    history.record(outcome(GiB, 1000)); // 1 GiB/s
    history.record(outcome(GiB, 4000)); // 256 MiB/s
    history.record(outcome(GiB, 500)); // 2 GiB/s
    assert.equal(history.throughputOf('node-a'), GiB);
    assert.equal(history.throughputOf('node-b'), undefined);
  });

  it('small, reused and failed checkpoints teach no throughput; the last size of a target is kept', () => {
    const history = createCheckpointHistory();
    history.record(outcome(MIN_SAMPLE_BYTES - 1, 10));
    history.record(outcome(GiB, 1000, { reused: true }));
    history.record(outcome(GiB, 1000, { error: { code: 'INTERNAL', phase: 'criuDump', message: 'x' } }));
    assert.equal(history.throughputOf('node-a'), undefined);
    assert.equal(history.lastSizeOf({ namespace: 'ml', pod: 'p', container: 'main' }), MIN_SAMPLE_BYTES - 1);
  });

  it("a target's last checkpoint is its estimate, over its resources", () => {
    const history = createCheckpointHistory();
    const t = target('p', 0, 8 * GiB, { gpuCount: 1 });
    assert.deepEqual(estimateOf(t, history, defaultPlanSettings), {
      bytes: 8 * GiB + defaultPlanSettings.gpuMemoryBytes,
      from: 'requested',
    });
    history.record(outcome(3 * GiB, 1000));
    assert.deepEqual(estimateOf(t, history, defaultPlanSettings), { bytes: 3 * GiB, from: 'measured' });
    assert.equal(estimateOf(target('q', 0), history, defaultPlanSettings), undefined);
  });
});

describe('the plan', () => {
  it('higher priority first, then the quickest; equal ones keep the order they were found in', () => {
    const p = plan(
      [
        target('big', 0, 4 * GiB),
        target('small', 0, GiB),
        target('urgent', 5, 8 * GiB),
        target('tie', 0, GiB),
      ],
      undefined,
    );
    assert.deepEqual(names(p.start), ['urgent', 'small', 'tie', 'big']);
    assert.deepEqual(p.skipped, []);
  });

  it('what cannot finish before the deadline is skipped, with the numbers; a smaller one after it may fit', () => {
    // 10 s at 1 GiB/s: 10 GiB. urgent (8) fits; big (4) would make 12; small (1) makes 9.
    const p = plan([target('big', 0, 4 * GiB), target('urgent', 5, 8 * GiB), target('small', 0, GiB)], 10);
    assert.deepEqual(names(p.start), ['urgent', 'small']);
    assert.deepEqual(names(p.skipped.map((s) => s.target)), ['big']);
    assert.equal(
      p.skipped[0]!.reason,
      'cannot finish before the deadline: its 4.0 GiB (estimated from its memory and GPUs), after the ' +
        '9.0 GiB ranked before it, need 13.0 s at 1.0 GiB/s; 10.0 s left',
    );
  });

  it('a priority that cannot be read goes first, unranked (its checkpoint is refused at once); unknown sizes are started last', () => {
    const bad = target('bad', 0, 64 * GiB, { priorityProblem: 'annotation snapback.io/priority: "x" …' });
    const p = plan([target('unknown', 0), target('sized', 0, GiB), bad], 2);
    assert.deepEqual(names(p.start), ['bad', 'sized', 'unknown']);
    assert.deepEqual(p.skipped, []);
  });

  it('no deadline, nothing skipped; no time left, everything sized skipped', () => {
    const targets = [target('a', 0, 100 * GiB), target('b', 1, 200 * GiB)];
    assert.deepEqual(names(plan(targets, undefined).start), ['b', 'a']);
    const late = plan(targets, -3);
    assert.deepEqual(late.start, []);
    assert.match(late.skipped[0]!.reason, /need 200\.0 s at 1\.0 GiB\/s; 0\.0 ms left$/);
  });
});
