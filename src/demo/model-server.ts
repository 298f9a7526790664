/**
 * The demo's workload from the outside: the command that starts workloads/model_server.py, one question to it,
 * and "launch → first correct answer" (poll until the server answers, then check the answer).
 */
import { request } from 'node:http';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, SnapbackError } from '../errors.js';
import type { Answer, Checked, ModelKind } from './answer.js';

export interface ModelServerSpec {
  python: string;
  /** Path of workloads/model_server.py. */
  script: string;
  model: ModelKind;
  port: number;
}

export function modelServerCommand(spec: ModelServerSpec): string[] {
  return [spec.python, spec.script, '--model', spec.model, '--port', String(spec.port)];
}

/**
 * The model server's hooks (docs/hooks.md), as `snapback run` takes them: vLLM's sleep mode level 1 before
 * the checkpoint (the KV cache is forgotten, so the image holds none of it), awake again after the restore.
 * The default 30 s timeouts fit a two-minute spot warning, whose hooks are not skipped.
 */
export function modelServerHooks(port: number): { preCheckpoint: string; postRestore: string } {
  return { preCheckpoint: `http POST :${port}/sleep?level=1`, postRestore: `http POST :${port}/wake_up` };
}

/**
 * One `GET /generate`, on a connection of its own (no keep-alive: no client connection to the server may
 * be open when it is checkpointed). Rejects with the socket error while nothing listens.
 */
export function askModel(url: string, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/generate`, { agent: false, timeout: timeoutMs, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        // Asleep (a restored server before its post-restore hook woke it): not yet.
        if (res.statusCode === 503) {
          reject(new SnapbackError(ErrorCode.UNAVAILABLE, `the model server is asleep: ${text}`));
          return;
        }
        if (res.statusCode !== 200) {
          reject(
            new SnapbackError(ErrorCode.INTERNAL, `the model server answered ${res.statusCode}: ${text}`),
          );
          return;
        }
        try {
          resolve(JSON.parse(text));
        } catch {
          reject(
            new SnapbackError(ErrorCode.INTERNAL, `the model server answered no JSON: ${text.slice(0, 200)}`),
          );
        }
      });
    });
    req.on('timeout', () => req.destroy(new SnapbackError(ErrorCode.DEADLINE_EXCEEDED, 'no answer in time')));
    req.on('error', reject);
    req.end();
  });
}

/** Errors that mean "not listening": nothing accepts connections on the port. */
function notListening(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE';
}

/** Errors that mean "not (yet) serving": not listening, or listening but asleep. The caller retries. */
function notYet(err: unknown): boolean {
  return notListening(err) || (err instanceof SnapbackError && err.code === ErrorCode.UNAVAILABLE);
}

export interface WaitForAnswerOptions {
  url: string;
  check: (body: unknown) => Checked;
  /** performance.now() at launch: the measurement starts there. */
  launchedAt: number;
  timeoutMs: number;
  signal: AbortSignal;
  /** Says why the server cannot come (it exited…), or undefined while it may still. */
  gone?: () => Promise<string | undefined>;
  pollMs?: number;
}

export interface FirstAnswer {
  answer: Answer;
  /** Launch → first correct answer. */
  ms: number;
}

/** Polls until the first answer; a wrong answer fails at once (it is not retried into a right one). */
export async function waitForCorrectAnswer(options: WaitForAnswerOptions): Promise<FirstAnswer> {
  const deadline = options.launchedAt + options.timeoutMs;
  const pollMs = options.pollMs ?? 50;
  let lastCheck = 0;
  for (;;) {
    options.signal.throwIfAborted();
    let body: unknown;
    try {
      body = await askModel(options.url, Math.max(1, deadline - performance.now()), options.signal);
    } catch (err) {
      if (!notYet(err)) throw SnapbackError.from(err);
      if (performance.now() > deadline) {
        throw new SnapbackError(
          ErrorCode.DEADLINE_EXCEEDED,
          `no answer from ${options.url} within ${Math.round(options.timeoutMs / 1000)} s`,
        );
      }
      if (options.gone && performance.now() - lastCheck > 500) {
        lastCheck = performance.now();
        const why = await options.gone();
        if (why !== undefined) throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, why);
      }
      await sleep(pollMs, undefined, { signal: options.signal });
      continue;
    }
    const ms = performance.now() - options.launchedAt;
    const checked = options.check(body);
    if (!checked.ok) {
      throw new SnapbackError(ErrorCode.INTERNAL, `wrong answer: ${checked.problems.join('; ')}`);
    }
    return { answer: checked.answer, ms };
  }
}

/** A loopback port free right now (the model server binds it itself). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new SnapbackError(ErrorCode.INTERNAL, 'no port');
  return address.port;
}

/** Whether something accepts connections on the port (the demo checks the server is really gone). */
export async function isListening(url: string): Promise<boolean> {
  try {
    await askModel(url, 30_000);
    return true;
  } catch (err) {
    return !notListening(err);
  }
}
