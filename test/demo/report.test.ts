/** The demo's closing table, its event lines and number formats. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloudEvent } from 'cloudevents';
import { formatEventLine } from '../../src/demo/event-lines.js';
import { formatProgress } from '../../src/demo/progress.js';
import { type DemoResult, formatReport, orderedPhases, speedUpOf } from '../../src/demo/report.js';
import { formatBytes, formatMs, formatRatio, textTable } from '../../src/format.js';

const result: DemoResult = {
  model: 'gpt2-small',
  node: 'demo-node',
  coldStartMs: 24_000,
  coldStartup: { import: 0.8, build: 0.9, warmup: 21.5 },
  checkpoint: {
    checkpointId: 'model-server-0123456789',
    sizeBytes: 624_951_296,
    durations: {
      inspect: 4,
      configure: 1,
      criuDump: 1210,
      manifest: 900,
      promote: 3,
      dispatch: 20,
      total: 2138,
    },
    noticeToEventMs: 2150,
  },
  restore: {
    firstAnswerMs: 4800,
    durations: { verify: 610, setup: 1, criuRestore: 3400, confirm: 1, dispatch: 15, total: 4027 },
    restoredPid: 4242,
  },
  lazyNote: 'not on this node (no userfaultfd)',
  proof: { nonce: 'ab'.repeat(16), counterAtCheckpoint: 3, counterAfterRestore: 4, tokens: [1, 2] },
};

describe('formatReport', () => {
  it('compares cold start and restore with the speed-up, and keeps a column for the lazy restore', () => {
    const text = formatReport(result);
    const lines = text.split('\n');
    assert.match(lines[0]!, /launch → first correct answer\s+cold start\s+restore\s+lazy-pages restore/);
    assert.match(lines[1]!, /time\s+24\.0 s\s+4\.80 s\s+not on this node \(no userfaultfd\)/);
    assert.match(lines[2]!, /speed-up\s+1\.0×\s+5\.0×\s+—/);
    assert.match(text, /image size\s+596\.0 MiB \(checkpoint model-server-0123456789\)/);
    assert.match(text, /import 800 ms, build 900 ms, warmup 21\.5 s/);
    assert.match(text, /counter 3 at the checkpoint → 4 after the restore/);
    assert.match(text, /first answer after that\s+\+773 ms/);
  });

  it('lists the checkpoint phases, then the restore phases, dispatch and total last', () => {
    const text = formatReport(result);
    const order = [
      'inspect',
      'criuDump',
      'manifest',
      'promote',
      'verify',
      'criuRestore',
      'dispatch',
      'total',
    ];
    const at = order.map((phase) => text.search(new RegExp(`\\n\\s+${phase}\\s`)));
    assert.deepEqual(
      at,
      [...at].sort((a, b) => a - b),
    );
    assert.ok(at.every((i) => i > 0));
  });

  it('fills the lazy column once a lazy restore was measured', () => {
    const { lazyNote: _, ...measured } = result;
    const text = formatReport({
      ...measured,
      lazyRestore: {
        firstAnswerMs: 1600,
        durations: { verify: 600, lazyPagesStart: 70, criuRestore: 120, firstRun: 800, total: 810 },
        pagesCompleteMs: 2400,
      },
    });
    assert.match(text, /time\s+24\.0 s\s+4\.80 s\s+1\.60 s/);
    assert.match(text, /speed-up\s+1\.0×\s+5\.0×\s+15×/);
    assert.match(text, /every page in \(from the request\)\s+2\.40 s/);
    assert.ok(
      orderedPhases({ firstRun: 1, verify: 1, total: 1, zzz: 1 }).join() === 'verify,firstRun,zzz,total',
    );
  });

  it('a missing measurement has no speed-up', () => {
    assert.ok(Number.isNaN(speedUpOf(1000, undefined)));
    assert.equal(formatRatio(Number.NaN), '—');
  });
});

describe('formats', () => {
  it('durations, sizes and tables', () => {
    assert.equal(formatMs(3.25), '3.3 ms');
    assert.equal(formatMs(840.4), '840 ms');
    assert.equal(formatMs(4520), '4.52 s');
    assert.equal(formatMs(26_800), '26.8 s');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(10), '10 B');
    assert.equal(
      textTable(
        [
          ['a', 'bb'],
          ['ccc', 'd'],
        ],
        '',
      ),
      'a     bb\nccc    d\n',
    );
  });

  it('progress: the phase and bytes written against the resident memory', () => {
    assert.equal(
      formatProgress({ phase: 'criuDump', bytes: 0, expectedBytes: 100 }, false),
      'criuDump     …',
    );
    assert.equal(
      formatProgress({ phase: 'criuDump', bytes: 50 * 1024 * 1024, expectedBytes: 100 * 1024 * 1024 }, false),
      'criuDump     50.0 MiB written of ~100.0 MiB resident',
    );
    assert.match(
      formatProgress({ phase: undefined, bytes: 5, expectedBytes: 10 }, true),
      /^dispatch\s+█{12}░{12} 5 B/,
    );
  });

  it('one line per completion event', () => {
    const event = (type: string, data: unknown) =>
      new CloudEvent({ id: '1', source: '/s', type, subject: 'default/model-server', data });
    const request = { source: '/s', id: '1' };
    assert.equal(
      formatEventLine(
        event('io.snapback.checkpoint.completed', {
          sizeBytes: 1024 * 1024,
          durations: { criuDump: 1200, total: 1300 },
          request,
        }),
      ),
      '← io.snapback.checkpoint.completed  default/model-server: 1.0 MiB in 1.30 s (criuDump 1.20 s)',
    );
    assert.match(
      formatEventLine(
        event('io.snapback.restore.failed', {
          durations: {},
          error: { code: 'INTERNAL', phase: 'criuRestore', message: 'internal error' },
          request,
        }),
      ),
      /restore\.failed {2}default\/model-server: INTERNAL in criuRestore: internal error/,
    );
    assert.match(
      formatEventLine(
        new CloudEvent({
          id: '2',
          source: '/s',
          type: 'io.snapback.preemption.handled',
          data: {
            node: 'n',
            pods: [{ outcome: 'checkpointed' }, { outcome: 'skipped' }],
            durations: {},
            request,
          },
        }),
      ),
      /n: 1 checkpointed, 0 failed, 1 skipped/,
    );
  });
});
