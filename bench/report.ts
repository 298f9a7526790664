/** bench/results.json → docs/benchmarks.md (tables, the machine, the date) and the chart's bars. */

import { orderedPhases } from '../src/demo/report.js';
import { formatBytes, formatMs, formatRatio } from '../src/format.js';
import type { Bar, Segment } from './chart.js';
import type { ContainerdBenchResult, RuntimeFigures } from './containerd.js';
import type { CudaPhaseResult } from './cuda-phase.js';
import type { DemoWorkloadResult } from './demo-workload.js';
import type { DispatchResult } from './dispatch.js';
import type { FanOutResult } from './fanout.js';
import type { HooksBenchResult, HooksVariant } from './hooks.js';
import type { LazyComparison, LazyResult } from './lazy.js';
import type { Machine } from './machine.js';
import type { ObjectStoreResult } from './object-store.js';
import type { PipelineResult } from './pipeline.js';
import type { ScaleResult } from './scale.js';
import { NOISY_SPREAD, type Summary } from './stats.js';

export interface BenchResults {
  date: string;
  durationS: number;
  machine: Machine;
  /** os.loadavg() (1, 5, 15 min) when the run started and ended: other work on the machine shows here. */
  load?: { start: number[]; end: number[] };
  pipeline?: PipelineResult;
  /** The same with a 4 GiB workload. */
  pipelineLarge?: PipelineResult;
  demoWorkload?: DemoWorkloadResult;
  dispatch?: DispatchResult;
  scale?: ScaleResult;
  fanOut?: FanOutResult;
  /** The same with 30 s to go. */
  fanOutShort?: FanOutResult;
  objectStore?: ObjectStoreResult;
  /** The same with a 4 GiB workload. */
  objectStoreLarge?: ObjectStoreResult;
  lazy?: LazyResult;
  cudaPhase?: CudaPhaseResult;
  containerd?: ContainerdBenchResult;
  hooks?: HooksBenchResult;
  /** Sections that did not run, and why. */
  skipped: Record<string, string>;
  /**
   * Sections measured by a later `--only=… --merge` run than `date` (and the rest of the figures), by
   * section name: when, and the load average (1, 5, 15 min) as that section started.
   */
  measuredAt?: Record<string, { date: string; load: number[] }>;
}

const NOISY = '⚠';

/** `1.23 s (1.10–1.40)`, flagged when the runs spread too far. */
export function summaryCell(s: Summary, format: (n: number) => string = formatMs): string {
  const range = s.n > 1 ? ` (${format(s.min)}–${format(s.max)})` : '';
  return `${format(s.median)}${range}${s.noisy ? ` ${NOISY}` : ''}`;
}

const rate = (n: number) => `${Math.round(n)}`;
const mbps = (n: number) => `${Math.round(n)} MB/s`;

/** The phases of a path to a first answer, with what the phases do not cover as a last segment. */
function segmentsOf(phases: Record<string, number>, totalMs: number, rest: string): Segment[] {
  const segments = Object.entries(phases)
    .filter(([phase]) => phase !== 'total' && phase !== 'firstRun')
    .map(([label, ms]) => ({ label, ms }));
  const covered = phases['total'] ?? segments.reduce((sum, s) => sum + s.ms, 0);
  return [...segments, { label: rest, ms: Math.max(0, totalMs - covered) }];
}

export function barsOf(d: DemoWorkloadResult): Bar[] {
  const startup = Object.entries(d.coldStartup).map(([step, s]) => ({
    label: `server ${step}`,
    ms: s * 1000,
  }));
  const reported = startup.reduce((sum, s) => sum + s.ms, 0);
  const bars: Bar[] = [
    {
      label: 'cold start',
      totalMs: d.coldStartMs.median,
      segments: [
        ...startup,
        { label: 'start + first answer', ms: Math.max(0, d.coldStartMs.median - reported) },
      ],
    },
    {
      label: 'restore',
      totalMs: d.restoreMs.median,
      segments: segmentsOf(d.restorePhases, d.restoreMs.median, 'first answer'),
    },
  ];
  if (d.lazyRestoreMs && d.lazyRestorePhases) {
    bars.push({
      label: 'lazy restore',
      totalMs: d.lazyRestoreMs.median,
      segments: segmentsOf(d.lazyRestorePhases, d.lazyRestoreMs.median, 'first answer'),
    });
  }
  return bars;
}

function phaseTable(columns: Record<string, Record<string, number>>): string[] {
  const names = Object.keys(columns);
  const ordered = orderedPhases(...Object.values(columns));
  return [
    `| phase | ${names.join(' | ')} |`,
    `|---|${names.map(() => '---:').join('|')}|`,
    ...ordered.map(
      (p) =>
        `| ${p} | ${names.map((n) => (columns[n]![p] === undefined ? '' : formatMs(columns[n]![p]!))).join(' | ')} |`,
    ),
  ];
}

function demoSection(d: DemoWorkloadResult): string[] {
  return [
    `## Cold start vs restore of the demo's model server (${d.model}, PyTorch on CPU)`,
    '',
    `Each figure is launch → first correct answer (restores: the same nonce, the counter continuing), through \`snapback demo\` itself; ${d.runs} runs.`,
    '',
    '| path | median (min–max) | speed-up |',
    '|---|---:|---:|',
    `| cold start | ${summaryCell(d.coldStartMs)} | 1.0× |`,
    `| restore | ${summaryCell(d.restoreMs)} | ${formatRatio(d.speedUp)} |`,
    ...(d.lazyRestoreMs
      ? [
          `| lazy-pages restore | ${summaryCell(d.lazyRestoreMs)} | ${formatRatio(d.lazySpeedUp ?? Number.NaN)} |`,
        ]
      : []),
    ...(d.lazyPagesCompleteMs
      ? [`| lazy: every page in (from the request) | ${summaryCell(d.lazyPagesCompleteMs)} | |`]
      : []),
    '',
    `Image size ${formatBytes(d.imageBytes)}. The cold start as the server measured it: ${Object.entries(
      d.coldStartup,
    )
      .map(([k, s]) => `${k} ${formatMs(s * 1000)}`)
      .join(
        ', ',
      )} (the warm-up is a 256-token profile forward plus three request-shaped forwards, as serving engines warm up before taking traffic).`,
    '',
    '![cold start vs restore phases](benchmarks.svg)',
    '',
    ...phaseTable({
      checkpoint: d.checkpointPhases,
      restore: d.restorePhases,
      ...(d.lazyRestorePhases ? { 'lazy restore': d.lazyRestorePhases } : {}),
    }),
    '',
  ];
}

function pipelineSection(p: PipelineResult): string[] {
  const t = p.throughputMBps;
  return [
    `## Whole pipeline vs raw CRIU (${formatBytes(p.sizeBytes)} image)`,
    '',
    `A workload holding ${formatBytes((p.mib ?? 1024) * 2 ** 20)} of written memory, its clock ticking every millisecond; the pipeline is the agent over gRPC (checkpoint: inspect, CRIU dump with the page images hashed as they are written, fsync, manifest with sha256 of every file, promote; restore: verify the other files, CRIU restore with the tree held stopped while its page images are verified, resume, confirm); raw is \`criu dump\` followed by \`sync\` of the same filesystem, and \`criu restore\`, with the same flags. Raw and pipeline take turns going first; the page cache is emptied before each. ${p.runs} runs.`,
    '',
    '| operation | raw criu | pipeline | pipeline / raw |',
    '|---|---:|---:|---:|',
    `| checkpoint (raw: dump + sync) | ${summaryCell(p.rawDumpSyncMs)} | ${summaryCell(p.pipelineCheckpointMs)} | ${p.checkpointRatio.toFixed(2)} |`,
    `| restore | ${summaryCell(p.rawRestoreMs)} | ${summaryCell(p.pipelineRestoreMs)} | ${p.restoreRatio.toFixed(2)} |`,
    `| the workload's freeze (longest clock gap) | ${summaryCell(p.rawFreezeMs)} | ${summaryCell(p.pipelineFreezeMs)} | ${(p.pipelineFreezeMs.median / p.rawFreezeMs.median).toFixed(2)} |`,
    '',
    `Raw \`criu dump\` alone: ${summaryCell(p.rawDumpMs)}.`,
    '',
    ...phaseTable({ checkpoint: p.checkpointPhases, restore: p.restorePhases }),
    '',
    `## Dump throughput vs a sequential write (same filesystem, same size: ${formatBytes(p.sizeBytes)})`,
    '',
    '| writer | throughput |',
    '|---|---:|',
    `| \`dd bs=1M conv=fsync\` (durable) | ${summaryCell(t.ddFsync, mbps)} |`,
    `| \`dd bs=1M\` (page cache) | ${summaryCell(t.ddNoFsync, mbps)} |`,
    `| raw \`criu dump\` (no fsync) | ${summaryCell(t.rawCriuDump, mbps)} |`,
    `| pipeline \`criuDump\` phase | ${summaryCell(t.pipelineCriuDump, mbps)} |`,
    '',
  ];
}

function dispatchSection(d: DispatchResult): string[] {
  return [
    '## Function dispatch overhead',
    '',
    `Checkpoint requests (binary mode) through \`snapback function all\` in local mode, answered by a gRPC agent stand-in that replies at once, vs a bare express app echoing the same bodies; loopback, keep-alive. Latency: ${d.sequential} requests one at a time; events/s: ${d.concurrent} requests, ${d.concurrency} in flight; ${d.rounds} rounds.`,
    '',
    '| server | p50 | p99 | events/s |',
    '|---|---:|---:|---:|',
    `| functions (validate, resolve, gRPC, completion event) | ${summaryCell(d.functions.p50Ms)} | ${summaryCell(d.functions.p99Ms)} | ${summaryCell(d.functions.eventsPerS, rate)} |`,
    `| bare express echo | ${summaryCell(d.echo.p50Ms)} | ${summaryCell(d.echo.p99Ms)} | ${summaryCell(d.echo.eventsPerS, rate)} |`,
    `| overhead | ${formatMs(d.overheadP50Ms)} | ${formatMs(d.overheadP99Ms)} | ${formatRatio(d.echo.eventsPerS.median / d.functions.eventsPerS.median)} fewer |`,
    '',
    `The completion events' own \`total\` (the function's time for resolving the target and the gRPC round trip to the stand-in): p50 ${formatMs(d.functionTotalMs.p50)}, p99 ${formatMs(d.functionTotalMs.p99)}.`,
    '',
  ];
}

const perNotice = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));

const RESOLUTION_LABEL: Readonly<Record<string, string>> = {
  requests: 'a request per question',
  informers: 'informers',
};

export function scaleSection(s: ScaleResult): string[] {
  const median = (resolution: string, events: boolean) =>
    s.sides.find((x) => x.resolution === resolution && x.events === events)?.p50Ms.median ?? Number.NaN;
  const ratio = (events: boolean) => formatRatio(median('requests', events) / median('informers', events));
  return [
    `## Resolution at scale: ${s.podsOnNode} opted-in pods on the noticed node, ${s.pods.toLocaleString('en')} pods in the API server`,
    '',
    `AWS spot warnings for one node with ${s.podsOnNode} opted-in pods, while the API server holds ${s.pods.toLocaleString('en')} pods on ${s.nodes} nodes (the tests' loopback API server, in a process of its own), through the preemption function in cluster mode: resolving with a request per question (as before) vs from informers (list once, then watch), each with a Kubernetes Event recorded on every checkpointed pod (as deployed) and without (the resolution's own cost shows); one notice to each in turn, ${s.noticesPerRound} per round, ${s.rounds} rounds. Latency: sent → the reply carrying the ${s.podsOnNode} completions; the agent stand-in answers each checkpoint at once, so this is the functions' and the API server's cost. The stand-in's pods are small and it filters in memory; a real API server's pods are larger, which makes every list dearer.`,
    '',
    '| resolution | Events recorded | p50 | p99 | API reads per notice | API writes per notice |',
    '|---|---|---:|---:|---:|---:|',
    ...s.sides.map(
      (x) =>
        `| ${RESOLUTION_LABEL[x.resolution] ?? x.resolution} | ${x.events ? 'yes' : 'no'} | ${summaryCell(x.p50Ms)} | ${summaryCell(x.p99Ms)} | ${perNotice(x.readsPerNotice)} | ${perNotice(x.writesPerNotice)} |`,
    ),
    '',
    `Median with a request per question over median with informers: ${ratio(true)} with the Events recorded, ${ratio(false)} without. On this stand-in a list is cheap (small pods, filtered in memory, on loopback), so the latency differs little and the Events, recorded one request per pod, dominate it; what the informers remove is the API server's work: the reads per notice (the nodes, to find the one the warning names; that node's opted-in pods; its agent) go to none. The writes are the \`Checkpointed\` Events, the same either way. The informers opened ${s.watchRequests} watch requests over the whole run (three to start; client-node re-opens a watch that stayed quiet for 30 s), none caused by a notice.`,
    '',
  ];
}

function objectStoreSection(o: ObjectStoreResult): string[] {
  return [
    `## Durable in object storage (${formatBytes(o.sizeBytes)} image, s3rver on loopback)`,
    '',
    `A workload holding ${formatBytes((o.mib ?? 1024) * 2 ** 20)} of written memory, checkpointed by an agent with \`--object-storage\` (request → committed in the bucket: CRIU's page images go up while CRIU writes them, the rest after, the manifest last), beside a raw \`criu dump\` and an upload of the same bytes by the AWS SDK alone (lib-storage, 16 MiB parts, 4 in flight per file, 2 files at once, as the agent) to the same server; then restored on a new node (a second agent with empty local storage: download with every byte checked as it arrives, verify, CRIU restore, confirm) beside a download of the same objects by the SDK alone. The server is s3rver on loopback, which writes every object to this machine's disk: a cloud's object store is neither as near nor as slow. The page cache is emptied before each measurement; raw and pipeline take turns going first. ${o.runs} runs.`,
    '',
    '| measure | median (min–max) |',
    '|---|---:|',
    `| raw \`criu dump\` | ${summaryCell(o.rawDumpMs)} |`,
    `| the same bytes uploaded by the SDK alone | ${summaryCell(o.sdkUploadMs)} |`,
    `| checkpoint → committed in the bucket | ${summaryCell(o.checkpointMs)} |`,
    `| checkpoint / max(raw dump, SDK upload) | ${o.checkpointRatio.toFixed(2)} |`,
    `| the same objects downloaded by the SDK alone | ${summaryCell(o.sdkDownloadMs)} |`,
    `| restore on a new node (download, verify, CRIU restore) | ${summaryCell(o.restoreMs)} |`,
    '',
    ...phaseTable({ checkpoint: o.checkpointPhases, 'restore on a new node': o.restorePhases }),
    '',
  ];
}

function lazySection(l: LazyResult): string[] {
  const rows = (c: LazyComparison, full: string) => [
    '| measure | median (min–max) |',
    '|---|---:|',
    `| ${full} → first answer | ${summaryCell(c.fullFirstAnswerMs)} |`,
    `| lazy restore → first answer | ${summaryCell(c.lazyFirstAnswerMs)} |`,
    `| lazy / full | ${c.firstAnswerRatio.toFixed(2)} |`,
    `| lazy restore → every page in, every part verified | ${summaryCell(c.lazyPagesCompleteMs)} |`,
    '',
    ...phaseTable({ full: c.fullPhases, lazy: c.lazyPhases }),
    '',
  ];
  const b = l.fromBucket;
  return [
    `## Lazy restore: first answer (${formatBytes(l.mib * 2 ** 20)} table)`,
    '',
    `A lookup server holding a ${formatBytes(l.mib * 2 ** 20)} table in memory (bench/workloads/lookup.py), each answer the sha256 of one 64 KiB row, as an embedding table or a cache serves; checkpointed once, then restored through the agent, full and lazy taking turns, the page cache emptied before each. From the restore request to the first correct answer. Full: every page image verified while CRIU restores the tree held stopped. Lazy: the parts CRIU restores itself verified, the tree resumed, the rest of its pages served by snapback to CRIU's lazy-pages daemon as they are asked for, each 16 MiB part verified before any page of it is served. ${l.runs} runs.`,
    '',
    ...rows(l, 'full restore'),
    ...(b === undefined
      ? []
      : [
          `### From the bucket, on a node without the checkpoint (s3rver on loopback)`,
          '',
          `The same checkpoint in object storage, each restore on a new agent with empty local storage. Full: the download phase fetches every file (ranged GETs, each checked as it arrives), then the restore as above. Lazy: every file but the page images is downloaded; each 16 MiB part of those is fetched (one ranged GET) when CRIU or the daemon first needs it, verified, then served; once every part is in, the copy is kept as the node's. ${b.fullFirstAnswerMs.n} runs.`,
          '',
          ...rows(b, 'download, then full restore'),
        ]),
  ];
}

function fanOutSection(f: FanOutResult): string[] {
  const deadline = f.deadlineS ?? 120;
  return [
    `## Preemption fan-out (${f.workloads} × ${f.mibEach} MiB, ${deadline} s deadline)`,
    '',
    deadline === 120
      ? `One AWS spot warning for the node (two minutes to go); the functions plan the node's checkpoints against its deadline and checkpoint every workload (${f.concurrency} in parallel) through the real agent. ${f.runs} runs.`
      : `One AWS spot warning for the node, sent ${120 - deadline} s after its time: ${deadline} s to go, as a GCP or Azure notice gives; the functions plan the node's checkpoints against that deadline (skipping what would not finish) and checkpoint the rest (${f.concurrency} in parallel) through the real agent. ${f.runs} runs.`,
    '',
    '| measure | median (min–max) |',
    '|---|---:|',
    `| pods the planner skipped | ${f.skipped ?? 0} of ${f.workloads} |`,
    `| warning → last \`checkpoint.completed\` at the sink | ${summaryCell(f.lastCompletionMs)} |`,
    `| warning → \`preemption.handled\` | ${summaryCell(f.handledMs)} |`,
    `| one checkpoint, median / slowest | ${formatMs(f.perCheckpointMs.median)} / ${formatMs(f.perCheckpointMs.max)} |`,
    `| written | ${formatBytes(f.totalBytes)} |`,
    '',
  ];
}

function cudaPhaseSection(c: CudaPhaseResult): string[] {
  return [
    `## CUDA phase: cuda-checkpoint per action vs one driver helper (stand-ins, ${formatMs(c.initDelayMs)} per CUDA initialisation)`,
    '',
    `Lock → checkpoint → restore → unlock of every CUDA process — the CUDA phase of a checkpoint that leaves the workload running — each step in parallel across the processes, as the executor runs it. No GPU: the stand-ins sleep ${formatMs(c.initDelayMs)} for each CUDA initialisation, the cuda-checkpoint stand-in on every run (as the real tool initialises CUDA on every run), the libcuda stand-in once, in the cuInit of the helper, which starts with the agent, before any notice, and took ${summaryCell(c.helperStartMs)} to start. ${c.runs} runs.`,
    '',
    '| CUDA processes | cuda-checkpoint (tool) | driver helper | tool / driver |',
    '|---:|---:|---:|---:|',
    ...c.rows.map(
      (row) =>
        `| ${row.processes} | ${summaryCell(row.toolMs)} | ${summaryCell(row.driverMs)} | ${formatRatio(row.speedUp)} |`,
    ),
    '',
  ];
}

function containerdSection(c: ContainerdBenchResult): string[] {
  const row = (what: string, f: RuntimeFigures) =>
    `| ${what} | ${formatBytes(f.sizeBytes)} | ${summaryCell(f.checkpointMs)} | ${summaryCell(f.restoreMs)} |`;
  const phases = (p: Record<string, number>) =>
    Object.entries(p)
      .filter(([k]) => k !== 'total')
      .map(([k, v]) => `${k} ${formatMs(v)}`)
      .join(', ');
  return [
    `## Any container: a ${c.mib} MiB workload as its container's PID 1 (containerd) beside the process runtime`,
    '',
    `Through the agent over gRPC, as users see it: checkpoint = request → published (dumped from the node, the container's files and volumes captured while it is frozen, every byte hashed and fsynced); restore = request → the workload runs again in a fresh \`sleep\` placeholder of the same image (verified, files applied, CRIU inside the placeholder's namespaces). The process runtime's workload is the same Python program, restored beside its original. ${c.runs} runs each, in the same run.`,
    '',
    '| runtime | image | checkpoint | restore |',
    '|---|---:|---:|---:|',
    row('containerd, PID 1 container', c.containerd),
    row('process runtime', c.process),
    `| containerd / process | | ${formatRatio(c.checkpointRatio)} | ${formatRatio(c.restoreRatio)} |`,
    '',
    `Phases (medians), containerd: checkpoint ${phases(c.containerd.checkpointPhases)}; restore ${phases(c.containerd.restorePhases)}.`,
    '',
  ];
}

const SLEEP_LABEL = [
  'as it runs (no hooks)',
  'asleep, level 1 (KV cache forgotten)',
  'asleep, level 2 (weights too)',
];

export function hooksSection(h: HooksBenchResult): string[] {
  const none = h.variants.find((v) => v.sleepLevel === 0);
  const ratio = (v: number, of: number | undefined) => (of === undefined ? '' : `${(v / of).toFixed(2)}×`);
  const label = (v: HooksVariant) => SLEEP_LABEL[v.sleepLevel] ?? `level ${v.sleepLevel}`;
  const model =
    h.standIn === undefined
      ? `${h.model}, PyTorch on CPU, ${h.kvCacheMib} MiB KV cache`
      : `the ${h.model} stand-in model with a ${h.kvCacheMib} MiB KV cache: ${h.standIn}`;
  const ms = (phases: Record<string, number>, name: string) =>
    phases[name] === undefined ? '' : formatMs(phases[name]);
  /** Request → published: the whole call but the original's wake, which follows the promotion. */
  const published = (v: HooksVariant) => v.checkpointMs.median - (v.checkpointPhases['postHook'] ?? 0);
  return [
    `## Hooks: the model server checkpointed asleep (${model})`,
    '',
    `The demo's model server checkpointed and restored through the agent as it runs, and with \`--pre-checkpoint 'http POST :PORT/sleep?level=N'\` and \`--post-restore 'http POST :PORT/wake_up'\` (docs/hooks.md; vLLM's sleep mode). Checkpoint: request → result, of which the pre hook and, once the checkpoint is published, the original's wake; restore: request → result (the restored server woken by its post hook) and → its first correct answer (same nonce, counter continuing). ${h.runs} runs each, the variants taking turns.`,
    '',
    '| server at the checkpoint | image | checkpoint | of it: preHook | of it: waking the original | restore | of it: postHook | restore → first answer |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...h.variants.map(
      (v) =>
        `| ${label(v)} | ${formatBytes(v.sizeBytes.median)} | ${summaryCell(v.checkpointMs)} | ${ms(v.checkpointPhases, 'preHook')} | ${ms(v.checkpointPhases, 'postHook')} | ${summaryCell(v.restoreMs)} | ${ms(v.restorePhases, 'postHook')} | ${summaryCell(v.firstAnswerMs)} |`,
    ),
    '',
    '| against no hooks (medians) | image | checkpoint: request → published | restore → first answer |',
    '|---|---:|---:|---:|',
    ...h.variants
      .filter((v) => v !== none)
      .map(
        (v) =>
          `| ${label(v)} | ${ratio(v.sizeBytes.median, none?.sizeBytes.median)} | ${ratio(published(v), none && published(none))} | ${ratio(v.firstAnswerMs.median, none?.firstAnswerMs.median)} |`,
      ),
    '',
    "Each hook is a request made by a process the agent starts inside the workload's network namespace (nsenter and the agent's own Node, about a tenth of a second); a wake's time also holds the server rebuilding what it dropped (the KV cache; at level 2 the weights, from their seed).",
    '',
  ];
}

/** Section keys as the report names them. */
const SECTION_TITLES: Readonly<Record<string, string>> = {
  demo: 'the demo workload',
  pipeline: 'the pipeline',
  dispatch: 'function dispatch',
  scale: 'resolution at scale',
  fanout: 'the preemption fan-out',
  object: 'checkpoints durable in object storage',
  lazy: 'lazy restore to the first answer',
  cuda: 'the CUDA phase',
  containerd: 'the PID 1 container under containerd',
  hooks: 'the model server checkpointed asleep (hooks)',
};

export function renderMarkdown(r: BenchResults): string {
  const m = r.machine;
  return [
    '# Benchmarks',
    '',
    `Measured by \`make bench\` on ${r.date.slice(0, 16).replace('T', ' ')} UTC (${Math.round(r.durationS)} s in all). Real measurements on the machine below, medians of several runs with their range; ${NOISY} marks a figure whose runs lie more than ${NOISY_SPREAD * 100}% apart (max − min over the median): read it with care. Raw data: \`bench/results.json\`.`,
    '',
    '| machine | |',
    '|---|---|',
    `| CPU | ${m.cpu}, ${m.cores} cores |`,
    `| memory | ${m.memoryGiB} GiB |`,
    `| OS, kernel | ${m.os}, ${m.kernel} |`,
    `| checkpoint storage | ${m.filesystem} |`,
    `| Node, CRIU | ${m.node}, ${m.criu} |`,
    ...(r.load
      ? [
          `| load average (1/5/15 min), start → end | ${r.load.start.map((l) => l.toFixed(1)).join(' / ')} → ${r.load.end.map((l) => l.toFixed(1)).join(' / ')} |`,
        ]
      : []),
    '',
    ...Object.entries(r.measuredAt ?? {}).map(
      ([section, { date, load }]) =>
        `Merged in from a later run (\`bench/run.ts --only=${section} --merge\`): ${SECTION_TITLES[section] ?? section}, measured on ${date.slice(0, 16).replace('T', ' ')} UTC on the same machine, load average ${load.map((l) => l.toFixed(1)).join(' / ')} as it started.\n`,
    ),
    ...(r.demoWorkload ? demoSection(r.demoWorkload) : []),
    ...(r.pipeline ? pipelineSection(r.pipeline) : []),
    ...(r.pipelineLarge ? pipelineSection(r.pipelineLarge) : []),
    ...(r.objectStore ? objectStoreSection(r.objectStore) : []),
    ...(r.objectStoreLarge ? objectStoreSection(r.objectStoreLarge) : []),
    ...(r.lazy ? lazySection(r.lazy) : []),
    ...(r.dispatch ? dispatchSection(r.dispatch) : []),
    ...(r.scale ? scaleSection(r.scale) : []),
    ...(r.fanOut ? fanOutSection(r.fanOut) : []),
    ...(r.fanOutShort ? fanOutSection(r.fanOutShort) : []),
    ...(r.containerd ? containerdSection(r.containerd) : []),
    ...(r.cudaPhase ? cudaPhaseSection(r.cudaPhase) : []),
    ...(r.hooks ? hooksSection(r.hooks) : []),
    ...(Object.keys(r.skipped).length > 0
      ? [
          '## Not measured in this run',
          '',
          ...Object.entries(r.skipped).map(([k, why]) => `- ${k}: ${why}`),
          '',
        ]
      : []),
  ].join('\n');
}
