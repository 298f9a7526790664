/**
 * Lazy restore vs full restore, to the first answer: a lookup server over a 1 GiB table (bench/workloads/
 * lookup.py), each answer touching one 64 KiB row. Restored fully, it answers once all its memory is back
 * and verified; restored lazily, once the rows it is asked for (and the parts CRIU restores itself) are
 * served and verified. Both through the agent, every byte verified either way; from this node's store, and
 * from a bucket on nodes that do not hold the checkpoint.
 */

import { mkdir, readFile, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BUCKET, startObjectStorage } from '../test/helpers/object-storage.js';
import {
  type BenchAgent,
  deleteCheckpoint,
  python,
  root,
  startBenchAgent,
  stopWorkload,
  timed,
} from './agent.js';
import { settle } from './raw-criu.js';
import { medianPhases, type Summary, summarize } from './stats.js';

/** Full and lazy restores of the lookup server, side by side. */
export interface LazyComparison {
  /** Restore request → the first correct answer. */
  fullFirstAnswerMs: Summary;
  lazyFirstAnswerMs: Summary;
  /** Lazy / full, medians. */
  firstAnswerRatio: number;
  /** Restore request → every page in and every part verified. */
  lazyPagesCompleteMs: Summary;
  fullPhases: Record<string, number>;
  lazyPhases: Record<string, number>;
}

export interface LazyResult extends LazyComparison {
  mib: number;
  runs: number;
  /** The same on a node that does not hold the checkpoint (s3rver on loopback): download vs on demand. */
  fromBucket?: LazyComparison;
}

const ROW = 7;

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The answer for row `ROW`, or undefined while nothing (or no whole answer) comes. */
function ask(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path: `/row/${ROW}`, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve(response.statusCode === 200 ? body : undefined));
      response.on('error', () => resolve(undefined));
    });
    request.on('error', () => resolve(undefined));
  });
}

/** Asks until an answer comes (the restored server's listener is back); every 2 ms, for up to a minute. */
async function firstAnswer(port: number): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const answer = await ask(port);
    if (answer !== undefined) return answer;
    if (Date.now() > deadline) throw new Error(`the restored lookup server on port ${port} never answered`);
    await sleep(2);
  }
}

/** Starts the lookup server on `agent`; resolves with its answer, once it answers. */
async function startLookup(agent: BenchAgent, dir: string, mib: number, port: number): Promise<string> {
  const cwd = join(dir, 'cwd', 'lookup');
  await mkdir(cwd, { recursive: true });
  const w = await agent.client.startWorkload({
    name: 'lookup',
    command: [python, join(root, 'bench', 'workloads', 'lookup.py'), String(mib), String(port)],
    cwd,
    env: {},
  });
  for (let i = 0; !(await readFile(w.stdoutPath, 'utf8').catch(() => '')).includes('ready'); i++) {
    if (i > 1200) throw new Error(`the lookup server did not get ready; see ${w.stderrPath}`);
    await sleep(50);
  }
  return firstAnswer(port);
}

/** Full and lazy restores taking turns, each on the agent `on` gives (and `done` then lets go). */
async function compare(
  runs: number,
  port: number,
  expected: string,
  on: (run: number, lazy: boolean) => Promise<{ agent: BenchAgent; done: () => Promise<void> }>,
): Promise<LazyComparison> {
  const full: number[] = [];
  const lazy: number[] = [];
  const complete: number[] = [];
  const fullPhases: Record<string, number>[] = [];
  const lazyPhases: Record<string, number>[] = [];
  for (let run = 0; run < runs; run++) {
    // Full and lazy take turns going first; the page cache is emptied before each.
    for (const isLazy of run % 2 === 0 ? [false, true] : [true, false]) {
      const name = `lookup-${isLazy ? 'lazy' : 'full'}-${run}`;
      const { agent, done } = await on(run, isLazy);
      await settle();
      const [restored, ms] = await timed(async () => {
        const result = await agent.client.restore({
          checkpointId: 'lookup',
          target: { pod: name },
          lazy: isLazy,
        });
        const answer = await firstAnswer(port);
        if (answer !== expected) throw new Error(`restored ${name} answered ${answer}, not ${expected}`);
        return result;
      });
      if (isLazy) {
        lazy.push(ms);
        lazyPhases.push(restored.durationsMs);
        const pages = await restored.pagesComplete;
        complete.push(pages?.durationsMs['pagesComplete'] ?? Number.NaN);
      } else {
        full.push(ms);
        fullPhases.push(restored.durationsMs);
      }
      await stopWorkload(agent, name);
      await done();
    }
  }
  const fullMs = summarize(full);
  const lazyMs = summarize(lazy);
  return {
    fullFirstAnswerMs: fullMs,
    lazyFirstAnswerMs: lazyMs,
    firstAnswerRatio: lazyMs.median / fullMs.median,
    lazyPagesCompleteMs: summarize(complete),
    fullPhases: medianPhases(fullPhases),
    lazyPhases: medianPhases(lazyPhases),
  };
}

/** From this node's store: the checkpoint is local. */
export async function benchLazy(
  agent: BenchAgent,
  dir: string,
  runs: number,
  mib = 1024,
): Promise<LazyResult> {
  const port = await freePort();
  const expected = await startLookup(agent, dir, mib, port);
  await agent.client.checkpoint({ target: { pod: 'lookup' }, checkpointId: 'lookup', leaveRunning: false });
  try {
    const local = await compare(runs, port, expected, async () => ({ agent, done: async () => {} }));
    return { mib, runs, ...local };
  } finally {
    await deleteCheckpoint(agent, 'lookup').catch(() => {});
  }
}

/**
 * From the bucket, on nodes that do not hold the checkpoint: each restore on a new agent with empty local
 * storage. Full: download every file (verified as it arrives), then restore. Lazy: download all but the
 * page images, then fetch each part of those when first needed.
 */
export async function benchLazyFromBucket(
  dir: string,
  signal: AbortSignal,
  runs: number,
  mib = 1024,
): Promise<LazyComparison> {
  const s3 = await startObjectStorage();
  const args = ['--object-storage', `s3://${BUCKET}/lazy`];
  const port = await freePort();
  try {
    const a = await startBenchAgent(join(dir, 'bucket-a'), signal, args, s3.directEnv, 'bucket-a');
    let expected: string;
    try {
      expected = await startLookup(a, join(dir, 'bucket-a'), mib, port);
      await a.client.checkpoint({ target: { pod: 'lookup' }, checkpointId: 'lookup', leaveRunning: false });
    } finally {
      await a.stop();
    }
    return await compare(runs, port, expected, async (run, lazy) => {
      const where = join(dir, `bucket-${lazy ? 'lazy' : 'full'}-${run}`);
      const agent = await startBenchAgent(
        where,
        signal,
        args,
        s3.directEnv,
        `node-${lazy ? 'lazy' : 'full'}-${run}`,
      );
      return {
        agent,
        done: async () => {
          await agent.stop();
          await rm(where, { recursive: true, force: true });
        },
      };
    });
  } finally {
    await s3.close();
  }
}
