/**
 * What the watcher tests run against, all on loopback: a sink that records (and can refuse) the events it
 * gets, the watcher itself with a fresh state folder and small intervals, a logger whose lines the test
 * reads, and `waitFor`, so tests wait for conditions rather than for fixed times.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRootLogger, type Logger } from '../../src/log.js';
import { runWatcher, type WatcherOptions } from '../../src/watch/watcher.js';

export interface ReceivedEvent {
  headers: IncomingHttpHeaders;
  data: { node: string; deadline?: string; urgency?: string; reason?: string };
}

export interface NoticeSink {
  url: string;
  received: ReceivedEvent[];
  /** Answer this status to the next `count` requests (503: retry; 400: refuse). */
  failNext(count: number, status?: number): void;
  attempts: number;
  close(): Promise<void>;
}

export async function startNoticeSink(): Promise<NoticeSink> {
  let failing = 0;
  let failStatus = 503;
  const sink = {
    received: [] as ReceivedEvent[],
    attempts: 0,
    failNext(count: number, status = 503) {
      failing = count;
      failStatus = status;
    },
  } as NoticeSink;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      sink.attempts++;
      if (failing > 0) {
        failing--;
        res.writeHead(failStatus).end();
        return;
      }
      sink.received.push({ headers: req.headers, data: JSON.parse(body) });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sink.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  sink.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return sink;
}

/** A loopback URL nobody listens on (a port opened, then closed). */
export async function deadEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** A logger whose JSON lines the test can read. */
export function capturedLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: createRootLogger({ level: 'debug', destination }), lines };
}

export async function newStateDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'snapback-watch-'));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export interface RunningWatcher {
  /** Stops it and waits until it has. */
  stop(): Promise<void>;
  /** Settles when the watcher returns by itself (or with its error). */
  done: Promise<void>;
}

/** Runs the watcher with test-sized intervals; `overrides` win. */
export function startWatcher(
  overrides: Partial<WatcherOptions> & Pick<WatcherOptions, 'sink' | 'stateDir' | 'endpoints'>,
): RunningWatcher {
  const controller = new AbortController();
  const options: WatcherOptions = {
    node: 'node-a',
    cloud: 'auto',
    pollIntervalMs: 20,
    requestTimeoutMs: 2000,
    detectTimeoutMs: 1000,
    gceWaitSeconds: 30,
    log: capturedLogger().log,
    ...overrides,
  };
  const done = runWatcher(options, controller.signal);
  return {
    done,
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

/** Polls `condition` every 10 ms until it holds; fails after `timeoutMs` naming `what`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
