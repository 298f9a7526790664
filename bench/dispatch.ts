/**
 * What the functions cost per event: latency (p50/p99, one request at a time) and validated events per
 * second (16 in flight) of checkpoint requests through `snapback function all` (parse, validate against
 * the schema, resolve, gRPC to an agent stand-in that answers at once, completion event as the reply),
 * against a bare express echo of the same bodies, on loopback. Bounded request counts, several rounds.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startFunctionsProcess } from '../src/demo/stack.js';
import { root } from './agent.js';
import { percentile, type Summary, summarize } from './stats.js';

export interface Side {
  p50Ms: Summary;
  p99Ms: Summary;
  eventsPerS: Summary;
}

export interface DispatchResult {
  rounds: number;
  sequential: number;
  concurrent: number;
  concurrency: number;
  functions: Side;
  echo: Side;
  /** Function p50/p99 minus echo p50/p99 (medians over rounds). */
  overheadP50Ms: number;
  overheadP99Ms: number;
  /** The `total` the completion events report: the function's own time for resolve + the gRPC round trip. */
  functionTotalMs: { p50: number; p99: number };
}

async function child(file: string, pattern: RegExp): Promise<{ proc: ChildProcess; match: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const match = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const found = pattern.exec(line)?.[1];
      if (found) resolve(found);
    });
    proc.once('exit', (code) => reject(new Error(`${file} exited (${code})`)));
  });
  return { proc, match };
}

function post(
  url: string,
  agent: Agent,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const body = JSON.stringify({ namespace: 'default', pod: 'bench' });
const headersOf = () => ({
  'content-type': 'application/json',
  'ce-specversion': '1.0',
  'ce-id': randomUUID(),
  'ce-source': '/snapback/bench',
  'ce-type': 'io.snapback.checkpoint.requested',
});

/** `n` requests, `concurrency` in flight; latencies in ms and the wall time. */
async function load(url: string, n: number, concurrency: number, onReply?: (text: string) => void) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < n) {
      next++;
      const t0 = performance.now();
      const reply = await post(url, agent, body, headersOf());
      latencies.push(performance.now() - t0);
      if (reply.status !== 200)
        throw new Error(`${url} answered ${reply.status}: ${reply.body.slice(0, 300)}`);
      onReply?.(reply.body);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallMs = performance.now() - started;
  agent.destroy();
  return { latencies, eventsPerS: n / (wallMs / 1000) };
}

async function measure(
  url: string,
  rounds: number,
  sequential: number,
  concurrent: number,
  concurrency: number,
  onReply?: (text: string) => void,
): Promise<Side> {
  await load(url, 200, 4); // warm-up: JIT, connections, caches
  const p50: number[] = [];
  const p99: number[] = [];
  const rate: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const one = await load(url, sequential, 1, onReply);
    p50.push(percentile(one.latencies, 50));
    p99.push(percentile(one.latencies, 99));
    rate.push((await load(url, concurrent, concurrency)).eventsPerS);
  }
  return { p50Ms: summarize(p50), p99Ms: summarize(p99), eventsPerS: summarize(rate) };
}

export async function benchDispatch(
  dir: string,
  signal: AbortSignal,
  rounds = 3,
  sequential = 500,
  concurrent = 2000,
  concurrency = 16,
): Promise<DispatchResult> {
  const stopping: ChildProcess[] = [];
  const stopAll = () =>
    Promise.all(
      stopping.map(async (p) => {
        if (p.exitCode !== null || p.signalCode !== null) return;
        const exited = new Promise((resolve) => p.once('exit', resolve));
        p.kill('SIGTERM');
        await exited;
      }),
    );
  try {
    const standIn = await child(join(root, 'bench', 'stand-in-agent.ts'), /^agent listening on (\S+)/);
    stopping.push(standIn.proc);
    const echo = await child(join(root, 'bench', 'echo-server.ts'), /^listening on (\d+)/);
    stopping.push(echo.proc);
    const functions = await startFunctionsProcess({
      agent: standIn.match,
      node: 'bench-node',
      providerId: 'aws:///us-east-1a/i-0123456789abcdef0',
      logLevel: 'info',
      logFile: join(dir, 'functions.log'),
      signal,
    });
    try {
      const dispatchMs: number[] = [];
      const fn = await measure(functions.url, rounds, sequential, concurrent, concurrency, (text) => {
        const ms = (JSON.parse(text) as { durations?: { total?: number } }).durations?.total;
        if (ms !== undefined) dispatchMs.push(ms);
      });
      const bare = await measure(
        `http://127.0.0.1:${echo.match}/`,
        rounds,
        sequential,
        concurrent,
        concurrency,
      );
      return {
        rounds,
        sequential,
        concurrent,
        concurrency,
        functions: fn,
        echo: bare,
        overheadP50Ms: fn.p50Ms.median - bare.p50Ms.median,
        overheadP99Ms: fn.p99Ms.median - bare.p99Ms.median,
        functionTotalMs: { p50: percentile(dispatchMs, 50), p99: percentile(dispatchMs, 99) },
      };
    } finally {
      await functions.service.stop();
    }
  } finally {
    await stopAll();
  }
}
