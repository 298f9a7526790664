/**
 * `make soak`: a sustained stream of checkpoint events at a fixed rate for a fixed time against the
 * functions, with real agents and real workloads on loopback (see stack.ts). Most events ask for a
 * checkpoint that exists (the agent answers from storage); every Nth asks for a fresh one (a real CRIU
 * dump), round-robin over the workloads; old fresh checkpoints are deleted as it goes, so disk stays bounded.
 * Reports throughput, p50/p99 latency, errors and the functions' RSS drift; exits 1 when any event is lost
 * (not answered 200 with a completion event) or the RSS grew beyond the bound.
 * Memory: the functions run with a capped V8 heap (--functions-heap-mb), so a JS-heap leak ends in an
 * out-of-memory crash, i.e. lost events, instead of V8 just growing lazily into free memory (which it does
 * without a cap: RSS rises for minutes with no leak). The RSS bound then catches memory outside the heap.
 *
 *   node --import tsx scripts/soak/soak.ts [--rate 50] [--duration 60] [--agents 2] [--workloads 3]
 *     [--fresh-every 25] [--keep 2] [--functions-heap-mb 128] [--max-rss-drift-mb 128]
 *     [--timeout-ms 30000] [--mib 4]
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { EventType } from '../../src/events/types.js';
import { rssOf, type Stack, startStack } from './stack.js';

const { values: flags } = parseArgs({
  options: {
    rate: { type: 'string', default: '50' },
    duration: { type: 'string', default: '60' },
    agents: { type: 'string', default: '2' },
    workloads: { type: 'string', default: '3' },
    'fresh-every': { type: 'string', default: '25' },
    keep: { type: 'string', default: '2' },
    'max-rss-drift-mb': { type: 'string', default: '128' },
    'timeout-ms': { type: 'string', default: '30000' },
    mib: { type: 'string', default: '4' },
    'functions-heap-mb': { type: 'string', default: '128' },
  },
});
const num = (name: keyof typeof flags) => {
  const value = Number(flags[name]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
};
const rate = num('rate');
const duration = num('duration');
const freshEvery = Math.round(num('fresh-every'));
const keep = Math.round(num('keep'));

type Outcome = 'completed' | 'failed' | 'lost';
interface Sample {
  latencyMs: number;
  outcome: Outcome;
  fresh: boolean;
  why?: string;
}

async function send(stack: Stack, workload: string, checkpointId: string, fresh: boolean): Promise<Sample> {
  const started = performance.now();
  try {
    const res = await fetch(stack.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': randomUUID(),
        'ce-source': '/soak',
        'ce-type': EventType.CHECKPOINT_REQUESTED,
      },
      body: JSON.stringify({ namespace: 'default', pod: workload, checkpointId }),
      signal: AbortSignal.timeout(num('timeout-ms')),
    });
    const body = await res.text();
    const latencyMs = performance.now() - started;
    const type = res.headers.get('ce-type');
    if (res.status === 200 && type === EventType.CHECKPOINT_COMPLETED)
      return { latencyMs, outcome: 'completed', fresh };
    if (res.status === 200 && type === EventType.CHECKPOINT_FAILED)
      return { latencyMs, outcome: 'failed', fresh, why: body.slice(0, 300) };
    return {
      latencyMs,
      outcome: 'lost',
      fresh,
      why: `HTTP ${res.status} ${type ?? ''} ${body.slice(0, 200)}`,
    };
  } catch (err) {
    return { latencyMs: performance.now() - started, outcome: 'lost', fresh, why: String(err) };
  }
}

/** Deletes all but the newest `keep` fresh checkpoints of each workload. */
async function prune(stack: Stack, newest: Map<string, number>): Promise<void> {
  for (const agent of stack.agents) {
    const { checkpoints } = await agent.client.listCheckpoints({});
    for (const c of checkpoints) {
      const m = /^fresh-(.+)-(\d+)$/.exec(c.checkpointId);
      if (m && Number(m[2]) <= (newest.get(m[1]!) ?? 0) - keep)
        await agent.client.deleteCheckpoint({ checkpointId: c.checkpointId });
    }
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
const mb = (bytes: number) => bytes / 2 ** 20;

async function main(): Promise<number> {
  const heapMb = Number(flags['functions-heap-mb']);
  const stack = await startStack({
    agents: num('agents'),
    workloadsPerAgent: num('workloads'),
    mib: num('mib'),
    ...(heapMb > 0 ? { functionsNodeOptions: `--max-old-space-size=${heapMb}` } : {}),
  });
  const rss: Array<{ at: number; bytes: number }> = [];
  try {
    const names = stack.workloads.map((w) => w.name);
    // Warm-up: one stored checkpoint per workload, which most events then ask for again.
    for (const name of names) {
      const s = await send(stack, name, `stable-${name}`, true);
      if (s.outcome !== 'completed')
        throw new Error(`warm-up checkpoint of ${name}: ${s.outcome} ${s.why ?? ''}`);
    }
    const pid = stack.functions.pid!;
    const start = performance.now();
    const sampler = setInterval(async () => {
      const bytes = await rssOf(pid);
      if (bytes !== undefined) rss.push({ at: (performance.now() - start) / 1000, bytes });
    }, 500);
    const newest = new Map<string, number>();
    const pruner = setInterval(() => void prune(stack, newest).catch(() => {}), 2_000);
    const inFlight: Promise<Sample>[] = [];
    const total = Math.round(rate * duration);
    let fresh = 0;
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (i % freshEvery === 0) {
        const name = names[fresh % names.length]!;
        const n = Math.floor(fresh / names.length) + 1;
        fresh++;
        newest.set(name, n);
        inFlight.push(send(stack, name, `fresh-${name}-${n}`, true));
      } else {
        const name = names[i % names.length]!;
        inFlight.push(send(stack, name, `stable-${name}`, false));
      }
    }
    const sentFor = (performance.now() - start) / 1000;
    const samples = await Promise.all(inFlight);
    const elapsed = (performance.now() - start) / 1000;
    clearInterval(sampler);
    clearInterval(pruner);

    const latencies = samples.map((s) => s.latencyMs).sort((a, b) => a - b);
    const freshLatencies = samples
      .filter((s) => s.fresh)
      .map((s) => s.latencyMs)
      .sort((a, b) => a - b);
    const count = (o: Outcome) => samples.filter((s) => s.outcome === o).length;
    const window = (from: number, to: number) =>
      rss.filter((r) => r.at >= from * duration && r.at <= to * duration).map((r) => r.bytes);
    const baseline = median(window(0.1, 0.25));
    const end = median(window(0.85, 1.01));
    const drift = end - baseline;
    const report = {
      rate,
      durationS: duration,
      sent: samples.length,
      sentForS: Number(sentFor.toFixed(1)),
      elapsedS: Number(elapsed.toFixed(1)),
      completed: count('completed'),
      errors: count('failed'),
      lost: count('lost'),
      throughputPerS: Number((count('completed') / elapsed).toFixed(1)),
      latencyMs: {
        p50: Number(percentile(latencies, 0.5).toFixed(1)),
        p99: Number(percentile(latencies, 0.99).toFixed(1)),
        max: Number((latencies.at(-1) ?? 0).toFixed(1)),
      },
      freshDumps: freshLatencies.length,
      freshLatencyMs: {
        p50: Number(percentile(freshLatencies, 0.5).toFixed(1)),
        p99: Number(percentile(freshLatencies, 0.99).toFixed(1)),
      },
      functionsRssMiB: {
        start: Number(mb(rss[0]?.bytes ?? 0).toFixed(1)),
        baseline: Number(mb(baseline).toFixed(1)),
        end: Number(mb(end).toFixed(1)),
        drift: Number(mb(drift).toFixed(1)),
        max: Number(mb(Math.max(...rss.map((r) => r.bytes))).toFixed(1)),
      },
    };
    console.log(JSON.stringify(report, null, 2));
    for (const s of samples.filter((x) => x.outcome !== 'completed').slice(0, 5))
      console.error(`${s.outcome}: ${s.why}`);
    const problems: string[] = [];
    if (report.lost > 0) problems.push(`${report.lost} event(s) lost (no completion event in the answer)`);
    if (mb(drift) > num('max-rss-drift-mb'))
      problems.push(
        `functions RSS grew by ${mb(drift).toFixed(1)} MiB (bound ${flags['max-rss-drift-mb']} MiB)`,
      );
    for (const p of problems) console.error(`soak FAILED: ${p}`);
    if (problems.length === 0) console.error('soak passed: no event lost, RSS bounded');
    return problems.length === 0 ? 0 : 1;
  } finally {
    await stack.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('soak could not run:', err);
    process.exit(2);
  },
);
