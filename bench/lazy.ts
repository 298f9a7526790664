/**
 * Lazy restore vs full restore, to the first answer: a lookup server over a 1 GiB table (bench/workloads/
 * lookup.py), each answer touching one 64 KiB row. Restored fully, it answers once all its memory is back
 * and verified; restored lazily, once the rows it is asked for (and the parts CRIU restores itself) are
 * served and verified. Both through the agent, every byte verified either way.
 */

import { mkdir, readFile } from 'node:fs/promises';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type BenchAgent, deleteCheckpoint, python, root, stopWorkload, timed } from './agent.js';
import { settle } from './raw-criu.js';
import { medianPhases, type Summary, summarize } from './stats.js';

export interface LazyResult {
  mib: number;
  runs: number;
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

export async function benchLazy(
  agent: BenchAgent,
  dir: string,
  runs: number,
  mib = 1024,
): Promise<LazyResult> {
  const port = await freePort();
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
  const expected = await firstAnswer(port);
  await agent.client.checkpoint({ target: { pod: 'lookup' }, checkpointId: 'lookup', leaveRunning: false });

  const full: number[] = [];
  const lazy: number[] = [];
  const complete: number[] = [];
  const fullPhases: Record<string, number>[] = [];
  const lazyPhases: Record<string, number>[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      // Full and lazy take turns going first; the page cache is emptied before each.
      for (const isLazy of run % 2 === 0 ? [false, true] : [true, false]) {
        const name = `lookup-${isLazy ? 'lazy' : 'full'}-${run}`;
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
      }
    }
  } finally {
    await deleteCheckpoint(agent, 'lookup').catch(() => {});
  }
  const fullMs = summarize(full);
  const lazyMs = summarize(lazy);
  return {
    mib,
    runs,
    fullFirstAnswerMs: fullMs,
    lazyFirstAnswerMs: lazyMs,
    firstAnswerRatio: lazyMs.median / fullMs.median,
    lazyPagesCompleteMs: summarize(complete),
    fullPhases: medianPhases(fullPhases),
    lazyPhases: medianPhases(lazyPhases),
  };
}
