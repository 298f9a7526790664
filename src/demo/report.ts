/**
 * The demo's result and its closing table: cold start vs restore (launch → first correct answer), the
 * speed-up, the phases of the checkpoint and of the restore, and the image size.
 */
import type { Durations } from '../events/types.js';
import { formatBytes, formatMs, formatRatio, textTable } from '../format.js';
import type { ModelKind } from './answer.js';

export interface RestoreMeasurement {
  /** Restore request sent → first correct answer of the restored server. */
  firstAnswerMs: number;
  /** The restore's phases as the completion event carries them (agent phases, dispatch, total). */
  durations: Durations;
}

export interface DemoResult {
  model: ModelKind;
  node: string;
  /** `snapback run` launched → first correct answer. */
  coldStartMs: number;
  /** Seconds per start-up step, as the server itself measured them (import, build, warmup). */
  coldStartup: Record<string, number>;
  /** The model server's hooks (docs/hooks.md), when it was started with them. */
  hooks?: { preCheckpoint: string; postRestore: string };
  checkpoint: {
    checkpointId: string;
    sizeBytes: number;
    durations: Durations;
    /** Spot warning sent → completion event received by the sink. */
    noticeToEventMs: number;
  };
  restore: RestoreMeasurement & { restoredPid: number };
  // LAZY-PAGES: the same checkpoint restored with CRIU lazy pages (restore request `lazy: true`), measured
  // the same way, when the agent can (GetInfo.lazyPages); otherwise `lazyNote` says why its column is empty.
  lazyRestore?: RestoreMeasurement & { pagesCompleteMs?: number };
  lazyNote?: string;
  proof: { nonce: string; counterAtCheckpoint: number; counterAfterRestore: number; tokens: number[] };
}

/** How many times faster the restore answered than the cold start. */
export function speedUpOf(coldStartMs: number, restore: RestoreMeasurement | undefined): number {
  return restore === undefined || restore.firstAnswerMs <= 0
    ? Number.NaN
    : coldStartMs / restore.firstAnswerMs;
}

/** The order phases are listed in: the checkpoint's, then the restore's; others come before `dispatch`. */
const PHASE_ORDER = [
  // checkpoint
  'inspect',
  'configure',
  'preHook',
  'cudaLock',
  'cudaCheckpoint',
  'criuDump',
  'rootfs',
  'manifest',
  'promote',
  // restore
  'verify',
  'lazyPagesStart',
  'setup',
  'criuRestore',
  'cudaRestore',
  'postHook',
  'confirm',
  'firstRun',
  'pagesComplete',
];
const LAST = ['dispatch', 'total'];

export function orderedPhases(...sets: readonly Durations[]): string[] {
  const all = new Set(sets.flatMap((d) => Object.keys(d)));
  const known = PHASE_ORDER.filter((p) => all.has(p));
  const other = [...all].filter((p) => !PHASE_ORDER.includes(p) && !LAST.includes(p)).sort();
  return [...known, ...other, ...LAST.filter((p) => all.has(p))];
}

const cell = (ms: number | undefined) => (ms === undefined ? '' : formatMs(ms));

export function formatReport(result: DemoResult): string {
  const lazy = result.lazyRestore;
  const notBuilt = result.lazyNote ?? 'not measured';
  const headline = textTable([
    ['launch → first correct answer', 'cold start', 'restore', 'lazy-pages restore'],
    [
      'time',
      formatMs(result.coldStartMs),
      formatMs(result.restore.firstAnswerMs),
      lazy ? formatMs(lazy.firstAnswerMs) : notBuilt,
    ],
    [
      'speed-up',
      formatRatio(1),
      formatRatio(speedUpOf(result.coldStartMs, result.restore)),
      lazy ? formatRatio(speedUpOf(result.coldStartMs, lazy)) : '—',
    ],
  ]);
  const c = result.checkpoint.durations;
  const r = result.restore.durations;
  const phaseRows = orderedPhases(c, r, lazy?.durations ?? {}).map((phase) => [
    phase,
    cell(c[phase]),
    cell(r[phase]),
    ...(lazy ? [cell(lazy.durations[phase])] : []),
  ]);
  const answerAfter = (m: RestoreMeasurement) =>
    `+${formatMs(Math.max(0, m.firstAnswerMs - (m.durations['total'] ?? 0)))}`;
  const phases = textTable([
    ['phase', 'checkpoint', 'restore', ...(lazy ? ['lazy restore'] : [])],
    ...phaseRows,
    ['first answer after that', '', answerAfter(result.restore), ...(lazy ? [answerAfter(lazy)] : [])],
    ...(lazy?.pagesCompleteMs === undefined
      ? []
      : [['every page in (from the request)', '', '', formatMs(lazy.pagesCompleteMs)]]),
  ]);
  const startup = Object.entries(result.coldStartup)
    .map(([step, s]) => `${step} ${formatMs(s * 1000)}`)
    .join(', ');
  const p = result.proof;
  return [
    headline,
    '\n',
    phases,
    '\n',
    `  image size        ${formatBytes(result.checkpoint.sizeBytes)} (checkpoint ${result.checkpoint.checkpointId})\n`,
    `  cold start        ${formatMs(result.coldStartMs)}, of which the server reported: ${startup}\n`,
    result.hooks
      ? `  hooks             before the checkpoint ${result.hooks.preCheckpoint} (preHook), after the restore ${result.hooks.postRestore} (postHook)\n`
      : '  hooks             none (the checkpoint holds the KV cache)\n',
    `  same process      nonce ${p.nonce}, counter ${p.counterAtCheckpoint} at the checkpoint → ${p.counterAfterRestore} after the restore, tokens [${p.tokens.join(', ')}]\n`,
  ].join('');
}
