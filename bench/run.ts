/**
 * `make bench`: one run of every benchmark on this machine, in sequence (they would disturb each other in
 * parallel on 2 cores), then bench/results.json, docs/benchmarks.md and docs/benchmarks.svg.
 *   node --import tsx bench/run.ts [--only=demo,pipeline,object,lazy,dispatch,scale,fanout,containerd,cuda,hooks]
 *   node --import tsx bench/run.ts --only=cuda --merge   (replaces those sections of bench/results.json
 *                                                          and keeps the others, saying when each was measured)
 *   node --import tsx bench/run.ts --report-only   (re-renders the docs from bench/results.json)
 * Work files go to var/bench (removed at the end). Exit status 1 if a section failed.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { containerdMissing } from '../test/helpers/containerd.js';
import { type BenchAgent, root, startBenchAgent } from './agent.js';
import { renderChart } from './chart.js';
import { benchContainerd } from './containerd.js';
import { benchCudaPhase } from './cuda-phase.js';
import { benchDemoWorkload, torchMissing } from './demo-workload.js';
import { benchDispatch } from './dispatch.js';
import { benchFanOut } from './fanout.js';
import { benchHooks } from './hooks.js';
import { benchLazy, benchLazyFromBucket } from './lazy.js';
import { describeMachine } from './machine.js';
import { benchObjectStore } from './object-store.js';
import { benchPipeline } from './pipeline.js';
import { type BenchResults, barsOf, renderMarkdown } from './report.js';
import { benchScale } from './scale.js';

const SECTIONS = [
  'demo',
  'pipeline',
  'object',
  'lazy',
  'dispatch',
  'scale',
  'fanout',
  'containerd',
  'cuda',
  'hooks',
] as const;
type Section = (typeof SECTIONS)[number];

function sectionsOf(argv: readonly string[]): Section[] {
  const only = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  if (only === undefined) return [...SECTIONS];
  const wanted = only.split(',');
  const unknown = wanted.filter((s) => !SECTIONS.includes(s as Section));
  if (unknown.length > 0)
    throw new Error(`unknown section(s) ${unknown.join(', ')}; known: ${SECTIONS.join(', ')}`);
  return wanted as Section[];
}

/** Cold start vs restores on one axis, then the restores alone, where their phases can be told apart. */
function chartOf(results: BenchResults): string {
  const title = 'Demo model server: launch → first correct answer, by phase (medians)';
  if (results.demoWorkload === undefined) return renderChart(`${title}: not measured (torch absent)`, []);
  const bars = barsOf(results.demoWorkload);
  return renderChart(title, [
    { title: 'cold start vs restore', bars },
    { title: 'the restores, zoomed', bars: bars.filter((b) => b.label !== 'cold start') },
  ]);
}

async function readResults(): Promise<BenchResults> {
  return JSON.parse(await readFile(join(root, 'bench', 'results.json'), 'utf8')) as BenchResults;
}

async function writeDocs(results: BenchResults): Promise<void> {
  await mkdir(join(root, 'docs'), { recursive: true });
  await writeFile(join(root, 'docs', 'benchmarks.md'), renderMarkdown(results));
  await writeFile(join(root, 'docs', 'benchmarks.svg'), chartOf(results));
}

async function main(): Promise<number> {
  if (process.argv.includes('--report-only')) {
    await writeDocs(await readResults());
    return 0;
  }
  const sections = sectionsOf(process.argv.slice(2));
  const controller = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => controller.abort(new Error(signal)));
  const signal = controller.signal;
  const work = join(root, 'var', 'bench');
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const started = performance.now();
  const now = new Date().toISOString();
  const fresh: BenchResults = {
    date: now,
    durationS: 0,
    machine: describeMachine(work),
    load: { start: loadavg(), end: [] },
    skipped: {},
  };
  const merge = process.argv.includes('--merge');
  const earlier = merge ? await readResults().catch(() => undefined) : undefined;
  // Merging keeps the earlier run's figures, date and machine, and notes when the new sections were taken.
  const rerun = (key: string) => sections.some((s) => key === s || key.startsWith(`${s} `));
  const results: BenchResults = earlier
    ? { ...earlier, skipped: Object.fromEntries(Object.entries(earlier.skipped).filter(([k]) => !rerun(k))) }
    : fresh;
  let failed = false;
  const section = async (name: Section, body: () => Promise<void>) => {
    if (!sections.includes(name)) return;
    process.stdout.write(`[bench] ${name} …\n`);
    const t0 = performance.now();
    const load = loadavg();
    try {
      await body();
      if (earlier) results.measuredAt = { ...results.measuredAt, [name]: { date: now, load } };
      process.stdout.write(`[bench] ${name} done in ${Math.round((performance.now() - t0) / 1000)} s\n`);
    } catch (err) {
      failed = true;
      results.skipped[name] = `failed: ${(err as Error).message}`;
      process.stderr.write(`[bench] ${name} failed: ${(err as Error).stack}\n`);
      if (signal.aborted) throw err;
    }
  };

  await section('demo', async () => {
    const missing = torchMissing();
    if (missing !== undefined) {
      results.skipped['demo workload (cold start vs restore)'] = missing;
      return;
    }
    results.demoWorkload = await benchDemoWorkload(join(work, 'demo'), signal, 3);
  });
  let agent: BenchAgent | undefined;
  try {
    if (sections.some((s) => ['pipeline', 'lazy', 'fanout', 'containerd', 'hooks'].includes(s)))
      agent = await startBenchAgent(join(work, 'agent'), signal);
    await section('pipeline', async () => {
      results.pipeline = await benchPipeline(agent!, join(work, 'agent'), 5);
      results.pipelineLarge = await benchPipeline(agent!, join(work, 'agent'), 3, 4096);
    });
    await section('object', async () => {
      results.objectStore = await benchObjectStore(join(work, 'object'), signal, 3);
      results.objectStoreLarge = await benchObjectStore(join(work, 'object'), signal, 2, 4096);
    });
    await section('lazy', async () => {
      results.lazy = await benchLazy(agent!, join(work, 'agent'), 5);
      results.lazy.fromBucket = await benchLazyFromBucket(join(work, 'lazy'), signal, 3);
    });
    await section('dispatch', async () => {
      results.dispatch = await benchDispatch(work, signal);
    });
    await section('scale', async () => {
      results.scale = await benchScale(signal);
    });
    await section('fanout', async () => {
      results.fanOut = await benchFanOut(agent!, join(work, 'agent'), signal, 3);
      results.fanOutShort = await benchFanOut(agent!, join(work, 'agent'), signal, 3, 16, 256, 90);
    });
    await section('containerd', async () => {
      const missing = containerdMissing();
      if (missing !== undefined) {
        results.skipped['containerd (PID 1 container vs process runtime)'] = missing;
        return;
      }
      results.containerd = await benchContainerd(join(work, 'agent'), agent!, signal, 3);
    });
    await section('hooks', async () => {
      results.hooks = await benchHooks(agent!, join(work, 'agent'), signal, 3);
    });
  } finally {
    await agent?.stop();
  }
  await section('cuda', async () => {
    results.cudaPhase = await benchCudaPhase(join(work, 'cuda'), 5);
  });

  if (!earlier) {
    results.durationS = (performance.now() - started) / 1000;
    results.load!.end = loadavg();
  }
  await writeFile(join(root, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeDocs(results);
  await rm(work, { recursive: true, force: true });
  process.stdout.write(
    `[bench] wrote bench/results.json, docs/benchmarks.md, docs/benchmarks.svg (${Math.round(results.durationS)} s)\n`,
  );
  return failed ? 1 : 0;
}

process.exitCode = await main();
