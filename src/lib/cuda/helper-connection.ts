/**
 * The agent's end of snapback-cuda-helper (native/cuda-helper.c, whose header has the protocol): one
 * long-lived process that loaded libcuda.so.1 and called cuInit once, asked in lines, answered in lines.
 * Every call carries an id, so calls for many PIDs are in flight at once; the helper runs each in a thread
 * of its own, and calls for one PID in the order they were sent.
 *
 * The helper is started on first use and started again on the call after it died; calls in flight when it
 * dies fail (UNAVAILABLE) saying how it ended. A call that runs past its timeout fails DEADLINE_EXCEEDED and
 * the helper is killed with it, as the runner kills a cuda-checkpoint run that hangs. A cancelled call
 * (its signal) fails at once but its driver call goes on in the helper: the next call for that PID — a
 * rollback's state query — is answered only once it has settled, so nothing races a half-taken lock.
 */
import { createInterface } from 'node:readline';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { type PipedTool, startPipedTool } from '../tools/index.js';

export const HELPER_PROTOCOL = 'snapback-cuda-helper 1';

/** What the helper is asked to do, named by the driver function it calls. */
export const HelperVerb = {
  state: 'cuCheckpointProcessGetState',
  lock: 'cuCheckpointProcessLock',
  checkpoint: 'cuCheckpointProcessCheckpoint',
  restore: 'cuCheckpointProcessRestore',
  unlock: 'cuCheckpointProcessUnlock',
  'restore-tid': 'cuCheckpointProcessGetRestoreThreadId',
} as const;
export type HelperVerb = keyof typeof HelperVerb;

export type Handshake =
  | {
      ok: true;
      /** cuDriverGetVersion: 13000 for CUDA 13.0. */
      cudaVersion: number;
      /** Where the loader found libcuda. */
      library: string;
    }
  | { ok: false; reason: string };

/** A call the driver refused; `cudaError` is the driver's own name for why (cuGetErrorName). */
export class CudaDriverError extends SnapbackError {
  readonly cudaError: string;
  constructor(verb: HelperVerb, pid: number, cudaError: string, text: string) {
    super(
      ErrorCode.INTERNAL,
      `${HelperVerb[verb]} on process ID ${pid} failed: ${cudaError}${text === '' ? '' : ` (${text})`}`,
    );
    this.cudaError = cudaError;
  }
}

export interface HelperConnectionOptions {
  /** The helper's executable, name or path. */
  binary: string;
  /** The libcuda to load (`--lib`); by default the loader's libcuda.so.1. */
  library?: string;
  /** Added to the helper's environment. */
  env?: Record<string, string>;
  /** How long loading the driver and cuInit may take. Default 120 s. */
  startTimeoutMs?: number;
}

export interface HelperCallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface HelperConnection {
  /** Starts the helper if none runs and says whether it serves; never throws but when cancelled. */
  handshake(signal?: AbortSignal): Promise<Handshake>;
  /** One driver call; resolves to what the helper answered after `ok` (a number, or nothing). */
  call(verb: HelperVerb, pid: number, arg: string | undefined, options: HelperCallOptions): Promise<string>;
  /** Ends the helper (after its calls in flight, if they end soon); a later call starts a new one. */
  close(): Promise<void>;
}

const DEFAULT_START_TIMEOUT_MS = 120_000;
/** How long `close` lets the helper finish what is in flight before killing it. */
const CLOSE_GRACE_MS = 5_000;

interface Pending {
  verb: HelperVerb;
  pid: number;
  resolve(value: string): void;
  reject(err: SnapbackError): void;
}

interface Session {
  tool: PipedTool;
  handshake: Promise<Handshake>;
  greeted: boolean;
  pending: Map<number, Pending>;
  /** How it ended, once it has. */
  gone?: string;
  /** Why we ended it, when we did. */
  stopping?: string;
}

export function createHelperConnection(options: HelperConnectionOptions): HelperConnection {
  const { binary } = options;
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  let current: Session | undefined;
  let nextId = 1;

  const hold = (s: Session) => s.tool.hold(!s.greeted || s.pending.size > 0);

  const start = (): Session => {
    const tool = startPipedTool(binary, options.library === undefined ? [] : ['--lib', options.library], {
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    let greet!: (h: Handshake) => void;
    const s: Session = {
      tool,
      handshake: new Promise<Handshake>((resolve) => {
        greet = resolve;
      }),
      greeted: false,
      pending: new Map(),
    };
    const greetOnce = (h: Handshake) => {
      if (s.greeted) return;
      s.greeted = true;
      clearTimeout(startTimer);
      greet(h);
      hold(s);
    };
    const startTimer = setTimeout(() => {
      greetOnce({
        ok: false,
        reason: `${binary} did not answer in ${startTimeoutMs} ms (loading the CUDA driver and cuInit)`,
      });
      stop(s, 'it did not start in time');
    }, startTimeoutMs);
    createInterface({ input: tool.stdout }).on('line', (line) => {
      if (!s.greeted) greetOnce(parseHandshake(binary, line));
      else answer(s, line);
    });
    void tool.ended.then((how) => {
      const tail = tool.stderrTail();
      s.gone = `${how}${s.stopping === undefined ? '' : ` (${s.stopping})`}${tail === '' ? '' : `:\n  ${tail}`}`;
      greetOnce({ ok: false, reason: s.gone });
      for (const p of s.pending.values()) {
        p.reject(
          new SnapbackError(
            ErrorCode.UNAVAILABLE,
            `the CUDA driver helper ended while ${HelperVerb[p.verb]} on process ID ${p.pid} was in flight: ${s.gone}`,
          ),
        );
      }
      if (current === s) current = undefined;
    });
    hold(s);
    return s;
  };

  const answer = (s: Session, line: string) => {
    const parts = /^(\d+) (ok|error)(?: (.*))?$/.exec(line);
    // An answer to a call that was given up (cancelled) has nobody waiting; id 0 answers an unreadable line.
    const p = parts === null ? undefined : s.pending.get(Number(parts[1]));
    if (p === undefined) return;
    const rest = parts![3] ?? '';
    if (parts![2] === 'ok') {
      p.resolve(rest);
      return;
    }
    const [name = '', ...text] = rest.split(' ');
    p.reject(
      name === 'BAD_REQUEST'
        ? new SnapbackError(ErrorCode.INTERNAL, `${binary} could not read a request: ${text.join(' ')}`)
        : new CudaDriverError(p.verb, p.pid, name, text.join(' ')),
    );
  };

  const stop = (s: Session, why: string) => {
    s.stopping ??= why;
    if (current === s) current = undefined;
    s.tool.kill('SIGKILL');
  };

  const session = (): Session => {
    if (current === undefined || current.gone !== undefined) current = start();
    return current;
  };

  return {
    async handshake(signal) {
      return await untilAborted(session().handshake, signal, 'starting the CUDA driver helper');
    },
    async call(verb, pid, arg, { timeoutMs, signal }) {
      const what = `${HelperVerb[verb]} on process ID ${pid}`;
      if (signal?.aborted) throw abortError(signal, what);
      const s = session();
      const greeting = await untilAborted(s.handshake, signal, what);
      if (!greeting.ok) {
        throw new SnapbackError(
          ErrorCode.FAILED_PRECONDITION,
          `the CUDA driver helper is unavailable: ${greeting.reason}`,
        );
      }
      if (s.gone !== undefined) {
        throw new SnapbackError(ErrorCode.UNAVAILABLE, `the CUDA driver helper ended: ${s.gone}`);
      }
      const id = nextId++;
      return await new Promise<string>((resolve, reject) => {
        const settle = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          s.pending.delete(id);
          hold(s);
        };
        const timer = setTimeout(() => {
          settle();
          const late = `${what} did not finish in ${timeoutMs} ms`;
          reject(new SnapbackError(ErrorCode.DEADLINE_EXCEEDED, late));
          stop(s, late);
        }, timeoutMs);
        const onAbort = () => {
          settle();
          reject(abortError(signal!, what));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        s.pending.set(id, {
          verb,
          pid,
          resolve(value) {
            settle();
            resolve(value);
          },
          reject(err) {
            settle();
            reject(err);
          },
        });
        hold(s);
        s.tool.stdin.write(`${id} ${verb} ${pid}${arg === undefined ? '' : ` ${arg}`}\n`);
      });
    },
    async close() {
      const s = current;
      if (s === undefined) return;
      current = undefined;
      s.stopping ??= 'closed';
      s.tool.stdin.end();
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([
        s.tool.ended.then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), CLOSE_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
      if (!ended) {
        s.tool.kill('SIGKILL');
        await s.tool.ended;
      }
    },
  };
}

/** Reads the helper's first line. */
export function parseHandshake(binary: string, line: string): Handshake {
  const prefix = `${HELPER_PROTOCOL} `;
  if (!line.startsWith(prefix)) {
    return {
      ok: false,
      reason: `${binary} does not speak "${HELPER_PROTOCOL}": it began with ${JSON.stringify(line.slice(0, 200))}`,
    };
  }
  const rest = line.slice(prefix.length);
  const ready = /^ready (\d+) (.+)$/.exec(rest);
  if (ready !== null) return { ok: true, cudaVersion: Number(ready[1]), library: ready[2]! };
  if (rest.startsWith('unavailable ')) return { ok: false, reason: rest.slice('unavailable '.length) };
  return {
    ok: false,
    reason: `${binary} answered an unknown greeting: ${JSON.stringify(rest.slice(0, 200))}`,
  };
}

function abortError(signal: AbortSignal, what: string): SnapbackError {
  const reason: unknown = signal.reason;
  if (reason instanceof SnapbackError) return reason;
  return new SnapbackError(ErrorCode.CANCELLED, `${what} was cancelled`, { cause: reason });
}

/** `promise`, unless `signal` aborts first. */
async function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  what: string,
): Promise<T> {
  if (signal === undefined) return await promise;
  if (signal.aborted) throw abortError(signal, what);
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortError(signal, what));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
