/** The benchmark's statistics, its markdown report and its hand-written SVG chart (no measuring here). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderChart, tickStepMs } from '../../bench/chart.js';
import type { DemoWorkloadResult } from '../../bench/demo-workload.js';
import { type BenchResults, barsOf, hooksSection, renderMarkdown, summaryCell } from '../../bench/report.js';
import { median, medianPhases, percentile, summarize } from '../../bench/stats.js';

describe('bench statistics', () => {
  it('median, nearest-rank percentiles, per-phase medians', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(hundred, 50), 50);
    assert.equal(percentile(hundred, 99), 99);
    assert.equal(percentile([7], 99), 7);
    assert.deepEqual(medianPhases([{ a: 1, b: 10 }, { a: 3 }, { a: 2, b: 20 }]), { a: 2, b: 15 });
  });

  it('flags runs that lie more than 25% apart', () => {
    assert.equal(summarize([100, 110, 105]).noisy, false);
    const noisy = summarize([100, 160, 110]);
    assert.equal(noisy.noisy, true);
    assert.equal(noisy.spread.toFixed(2), '0.55');
    assert.equal(summarize([5]).noisy, false);
    assert.equal(summaryCell(noisy), '110 ms (100 ms–160 ms) ⚠');
    assert.equal(summaryCell(summarize([1500])), '1.50 s');
  });
});

const demo: DemoWorkloadResult = {
  model: 'gpt2-small',
  runs: 3,
  coldStartMs: summarize([24_000, 25_000, 26_000]),
  restoreMs: summarize([2800, 2900, 3000]),
  lazyRestoreMs: summarize([2300, 2400, 2500]),
  lazyPagesCompleteMs: summarize([1300, 1400, 1500]),
  speedUp: 25_000 / 2900,
  lazySpeedUp: 25_000 / 2400,
  imageBytes: 626_000_000,
  coldStartup: { import: 0.8, build: 0.9, warmup: 21 },
  checkpointPhases: { inspect: 3, criuDump: 630, manifest: 1180, promote: 3, dispatch: 13, total: 1830 },
  restorePhases: { verify: 1160, setup: 2, criuRestore: 455, confirm: 1, dispatch: 11, total: 1640 },
  lazyRestorePhases: {
    verify: 790,
    lazyPagesStart: 69,
    criuRestore: 106,
    firstRun: 993,
    dispatch: 5,
    total: 998,
  },
};

describe('bench report', () => {
  it('bars: the server-reported start-up, the restore phases and what they leave to the first answer', () => {
    const [cold, restore, lazy] = barsOf(demo);
    assert.deepEqual(
      cold!.segments.map((s) => s.label),
      ['server import', 'server build', 'server warmup', 'start + first answer'],
    );
    assert.equal(Math.round(cold!.segments.at(-1)!.ms), 25_000 - 22_700);
    assert.equal(restore!.totalMs, 2900);
    assert.equal(restore!.segments.at(-1)!.label, 'first answer');
    assert.equal(restore!.segments.at(-1)!.ms, 2900 - 1640);
    // firstRun overlaps the other phases of a lazy restore: it is not a segment of its own.
    assert.ok(!lazy!.segments.some((s) => s.label === 'firstRun'));
  });

  it('the chart is an SVG: panels of one bar per path, each with its own time axis, and one legend', () => {
    const bars = barsOf(demo);
    const svg = renderChart('cold start <vs> restore', [
      { title: 'all', bars },
      { title: 'zoomed', bars: bars.slice(1) },
    ]);
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /cold start &lt;vs&gt; restore/);
    for (const label of [
      'cold start',
      'restore',
      'lazy restore',
      '25.0 s',
      '2.9 s',
      'server warmup',
      '20 s',
    ]) {
      assert.ok(svg.includes(`>${label}<`), label);
    }
    assert.equal(tickStepMs(25_000), 5000);
    assert.equal(tickStepMs(700), 100);
    assert.match(renderChart('empty', []), /<\/svg>\n$/);
  });

  it('the markdown names the machine and the date, and says what was not measured', () => {
    const results: BenchResults = {
      date: '2026-11-28T12:42:06.597Z',
      durationS: 412,
      machine: {
        cpu: 'AMD EPYC',
        cores: 2,
        memoryGiB: 24,
        kernel: '6.18',
        os: 'Debian 12',
        node: 'v24',
        criu: '4.2.1',
        filesystem: 'ext4 /dev/vda',
      },
      load: { start: [2.42, 3.19, 2.35], end: [6.65, 6.12, 3.92] },
      demoWorkload: demo,
      skipped: { fanout: 'failed: out of disk' },
    };
    const md = renderMarkdown(results);
    assert.match(md, /on 2026-11-28 12:42 UTC \(412 s in all\)/);
    assert.match(md, /\| CPU \| AMD EPYC, 2 cores \|/);
    assert.match(
      md,
      /\| load average \(1\/5\/15 min\), start → end \| 2\.4 \/ 3\.2 \/ 2\.4 → 6\.7 \/ 6\.1 \/ 3\.9 \|/,
    );
    assert.match(md, /\| restore \| 2\.90 s \(2\.80 s–3\.00 s\) \| 8\.6× \|/);
    assert.match(md, /\| lazy-pages restore \| 2\.40 s/);
    assert.match(md, /!\[cold start vs restore phases\]\(benchmarks\.svg\)/);
    assert.match(md, /\| phase \| checkpoint \| restore \| lazy restore \|/);
    assert.match(md, /- fanout: failed: out of disk/);
    assert.ok(!md.includes('Whole pipeline'), 'a section that did not run is not shown');
    assert.ok(!md.includes('Merged in'), 'nothing was merged in');
  });

  it('resolution at scale: each resolution with and without Events, requests per notice, the ratios', () => {
    const side = (resolution: 'requests' | 'informers', events: boolean, p50: number[], reads: number) => ({
      resolution,
      events,
      p50Ms: summarize(p50),
      p99Ms: summarize(p50.map((x) => x * 2)),
      readsPerNotice: reads,
      writesPerNotice: events ? 100 : 0,
    });
    const md = renderMarkdown({
      date: '2026-11-28T12:42:06.597Z',
      durationS: 60,
      machine: {
        cpu: 'AMD EPYC',
        cores: 2,
        memoryGiB: 24,
        kernel: '6.18',
        os: 'Debian 12',
        node: 'v24',
        criu: '4.2.1',
        filesystem: 'ext4',
      },
      scale: {
        pods: 5000,
        nodes: 50,
        podsOnNode: 100,
        rounds: 3,
        noticesPerRound: 30,
        sides: [
          side('requests', true, [220, 230, 240], 3),
          side('informers', true, [200, 210, 220], 0),
          side('requests', false, [60, 62, 64], 3),
          side('informers', false, [30, 31, 32], 0),
        ],
        watchRequests: 3,
      },
      skipped: {},
    });
    assert.match(
      md,
      /## Resolution at scale: 100 opted-in pods on the noticed node, 5,000 pods in the API server/,
    );
    assert.match(md, /\| a request per question \| yes \| 230 ms \(220 ms–240 ms\) \| .* \| 3 \| 100 \|/);
    assert.match(md, /\| informers \| no \| 31 ms \(30 ms–32 ms\) \| .* \| 0 \| 0 \|/);
    assert.match(md, /over median with informers: 1\.1× with the Events recorded, 2\.0× without/);
    assert.match(md, /opened 3 watch requests/);
  });

  it('the CUDA phase: both backends side by side, with the initialisation they stand for, and when it was merged in', () => {
    const results: BenchResults = {
      date: '2026-11-28T12:42:06.597Z',
      durationS: 412,
      machine: {
        cpu: 'AMD EPYC',
        cores: 2,
        memoryGiB: 24,
        kernel: '6.18',
        os: 'Debian 12',
        node: 'v24',
        criu: '4.2.1',
        filesystem: 'ext4 /dev/vda',
      },
      cudaPhase: {
        initDelayMs: 1000,
        runs: 3,
        helperStartMs: summarize([1004, 1006]),
        rows: [
          {
            processes: 1,
            toolMs: summarize([4300, 4400, 4350]),
            driverMs: summarize([5, 6, 7]),
            speedUp: 4350 / 6,
          },
        ],
      },
      skipped: {},
      measuredAt: { cuda: { date: '2026-11-30T15:40:00.000Z', load: [7.33, 5.08, 2.67] } },
    };
    const md = renderMarkdown(results);
    assert.match(
      md,
      /## CUDA phase: cuda-checkpoint per action vs one driver helper \(stand-ins, 1\.00 s per CUDA initialisation\)/,
    );
    assert.match(md, /\| 1 \| 4\.35 s \(4\.30 s–4\.40 s\) \| 6\.0 ms \(5\.0 ms–7\.0 ms\) ⚠ \| 725× \|/);
    assert.match(
      md,
      /starts with the agent, before any notice, and took 1\.00 s \(1\.00 s–1\.01 s\) to start/,
    );
    assert.match(
      md,
      /Merged in from a later run .*--only=cuda --merge.*the CUDA phase, measured on 2026-11-30 15:40 UTC on the same machine, load average 7\.3 \/ 5\.1 \/ 2\.7/,
    );
  });

  it('hooks: image and times of each sleep level beside no hooks, and their ratios; the stand-in says why', () => {
    const variant = (sleepLevel: number, mib: number, checkpoint: number, restore: number) => ({
      sleepLevel,
      sizeBytes: summarize([mib * 2 ** 20]),
      checkpointMs: summarize([checkpoint]),
      restoreMs: summarize([restore]),
      firstAnswerMs: summarize([restore + 10]),
      checkpointPhases: sleepLevel === 0 ? {} : { preHook: 120, postHook: 100 },
      restorePhases: sleepLevel === 0 ? {} : { postHook: 250 },
    });
    const lines = hooksSection({
      model: 'tiny',
      standIn: 'torch is not importable',
      kvCacheMib: 512,
      runs: 1,
      variants: [variant(0, 530, 4000, 2000), variant(1, 18, 500, 500)],
    });
    const md = lines.join('\n');
    assert.match(md, /the tiny stand-in model with a 512 MiB KV cache: torch is not importable/);
    assert.match(
      md,
      /\| as it runs \(no hooks\) \| 530\.0 MiB \| 4\.00 s \| {2}\| {2}\| 2\.00 s \| {2}\| 2\.01 s \|/,
    );
    assert.match(
      md,
      /\| asleep, level 1 \(KV cache forgotten\) \| 18\.0 MiB \| 500 ms \| 120 ms \| 100 ms \| 500 ms \| 250 ms \| 510 ms \|/,
    );
    // Published: 500 − 100 (the wake follows the promotion) over 4000; first answers: 510 over 2010.
    assert.match(md, /\| asleep, level 1 \(KV cache forgotten\) \| 0\.03× \| 0\.10× \| 0\.25× \|/);
  });
});
