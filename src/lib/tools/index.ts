/**
 * The one way snapback runs an external tool (criu, cuda-checkpoint, nsenter …): execa with a timeout,
 * an AbortSignal, and on failure a SnapbackError that names the command, its exit status and the tail
 * of what it said. Callers may swap the runner (e.g. to record calls), but real-tool tests use this one.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Duplex, Readable, Writable } from 'node:stream';
import { execa } from 'execa';
import { ErrorCode, SnapbackError } from '../../errors.js';

/** Options are often passed through from a caller's own optional ones: each may be given as undefined. */
export interface RunOptions {
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  cwd?: string | undefined;
  env?: Record<string, string | undefined> | undefined;
  /** Extra file descriptors for the child, from 3 on (e.g. criu's --inherit-fd). */
  extraFds?: readonly number[] | undefined;
  /** Read on failure to explain it (criu writes its reasons to a log file, not stderr). */
  logFile?: string | undefined;
  /** Error code when the tool exits non-zero (default INTERNAL). */
  failureCode?: ErrorCode | undefined;
  /**
   * Run in a session of its own: a signal to the caller's process group (or the caller's death) does not
   * reach it. For CRIU, whose death mid-dump can take the workload with it.
   */
  detached?: boolean | undefined;
  /** Tolerated non-zero exit statuses: returned instead of thrown. */
  allowExitCodes?: readonly number[] | undefined;
  input?: string | undefined;
}

export interface RunResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export type Runner = (file: string, args: readonly string[], options?: RunOptions) => Promise<RunResult>;

const TAIL_LINES = 12;

export const runTool: Runner = async (file, args, options = {}) => {
  const started = performance.now();
  const command = [file, ...args].join(' ');
  // A detached tool must outlive us: writing to a pipe whose reader died would kill it with SIGPIPE, so its
  // output goes to files beside its log instead.
  const toFiles = options.detached === true && options.logFile !== undefined;
  const outFile = `${options.logFile}.stdout`;
  const errFile = `${options.logFile}.stderr`;
  const stdio = toFiles
    ? [
        options.input === undefined ? 'ignore' : 'pipe',
        { file: outFile },
        { file: errFile },
        ...(options.extraFds ?? []),
      ]
    : ['pipe', 'pipe', 'pipe', ...(options.extraFds ?? [])];
  const result = await execa(file, args, {
    reject: false,
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
    ...(options.signal === undefined ? {} : { cancelSignal: options.signal }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
    extendEnv: true,
    stdio: stdio as unknown as ['pipe', 'pipe', 'pipe'],
    ...(options.input === undefined ? {} : { input: options.input }),
    detached: options.detached ?? false,
    stripFinalNewline: true,
    forceKillAfterDelay: 5_000,
  });
  const durationMs = performance.now() - started;
  const exitCode = result.exitCode ?? -1;
  const fromFile = (path: string) => readFile(path, 'utf8').catch(() => '');
  const out = {
    command,
    exitCode,
    stdout: toFiles ? await fromFile(outFile) : String(result.stdout ?? ''),
    stderr: toFiles ? await fromFile(errFile) : String(result.stderr ?? ''),
    durationMs,
  };
  if (!result.failed || (result.exitCode !== undefined && options.allowExitCodes?.includes(result.exitCode)))
    return out;

  const tail = await explain(out.stderr, options.logFile);
  if (result.isCanceled) {
    const reason = options.signal?.reason;
    if (reason instanceof SnapbackError) throw reason;
    throw new SnapbackError(ErrorCode.CANCELLED, `${file} was cancelled`, { cause: result });
  }
  if (result.timedOut) {
    throw new SnapbackError(
      ErrorCode.DEADLINE_EXCEEDED,
      `${file} did not finish in ${options.timeoutMs} ms${tail}`,
      {
        cause: result,
      },
    );
  }
  if (result.code === 'ENOENT' || (result.cause as { code?: string } | undefined)?.code === 'ENOENT') {
    throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, `${file} is not installed (not found on PATH)`, {
      cause: result,
    });
  }
  const how = result.signal ? `was killed by ${result.signal}` : `exited with status ${exitCode}`;
  throw new ToolError(options.failureCode ?? ErrorCode.INTERNAL, `${command} ${how}${tail}`, out, tail);
};

/** A tool's failure: what ran, how it ended and what it said. */
export class ToolError extends SnapbackError {
  readonly result: RunResult;
  readonly tail: string;
  constructor(code: ErrorCode, message: string, result: RunResult, tail: string) {
    super(code, message);
    this.result = result;
    this.tail = tail;
  }
}

async function explain(stderr: string, logFile: string | undefined): Promise<string> {
  let text = stderr;
  if (logFile !== undefined) {
    try {
      text = `${text}\n${await readFile(logFile, 'utf8')}`;
    } catch {
      // No log to read: the tool failed before writing one.
    }
  }
  const lines = text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '');
  if (lines.length === 0) return '';
  // Tools like criu log their reason early ("Error (file.c:N): …") and a generic failure last.
  const tail = lines.slice(-TAIL_LINES / 2);
  const errors = lines
    .filter((l) => /\b(Error|error|fatal|FATAL)\b/.test(l) && !tail.includes(l))
    .slice(0, TAIL_LINES / 2);
  return `:\n  ${[...errors, ...(errors.length > 0 ? ['…'] : []), ...tail].join('\n  ')}`;
}

/** A tool left running in the background (a daemon the caller supervises). */
export interface RunningTool {
  readonly pid: number;
  /** Settles when the tool exits: resolves on status 0, rejects with a ToolError otherwise. */
  readonly done: Promise<RunResult>;
  /** The caller's end of the tool's fd 3, when started with `channel`. */
  readonly channel?: Duplex;
  kill(signal?: NodeJS.Signals): void;
}

export interface StartOptions {
  cwd?: string;
  logFile?: string;
  failureCode?: ErrorCode;
  /**
   * Give the tool one end of a socket pair as its fd 3 (e.g. criu's --ps-socket); the other end is the
   * running tool's `channel`. The tool's end is blocking, as tools written in C expect.
   */
  channel?: boolean;
}

/** Starts a tool without waiting for it; `done` reports how it ended, with the tail of its log. */
export function startTool(file: string, args: readonly string[], options: StartOptions = {}): RunningTool {
  const started = performance.now();
  const command = [file, ...args].join(' ');
  const child = execa(file, args, {
    reject: false,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdio: ['ignore', 'pipe', 'pipe', ...(options.channel === true ? ['pipe' as const] : [])],
    // The channel is the caller's to read, not output to collect.
    buffer: { fd3: false },
    stripFinalNewline: true,
  });
  const done = child.then(async (result) => {
    const out = {
      command,
      exitCode: result.exitCode ?? -1,
      stdout: String(result.stdout ?? ''),
      stderr: String(result.stderr ?? ''),
      durationMs: performance.now() - started,
    };
    if (!result.failed) return out;
    const tail = await explain(out.stderr, options.logFile);
    const how = result.signal ? `was killed by ${result.signal}` : `exited with status ${out.exitCode}`;
    throw new ToolError(options.failureCode ?? ErrorCode.INTERNAL, `${command} ${how}${tail}`, out, tail);
  });
  // The caller learns the outcome from `done`; an unobserved failure must not crash the process.
  done.catch(() => {});
  return {
    pid: child.pid ?? -1,
    done,
    ...(options.channel === true ? { channel: child.stdio[3] as unknown as Duplex } : {}),
    kill: (signal = 'SIGTERM') => {
      child.kill(signal);
    },
  };
}

/** A tool the caller talks to over its stdin and stdout for as long as it runs (a helper, not a daemon). */
export interface PipedTool {
  /** Undefined when it could not be started. */
  readonly pid: number | undefined;
  readonly stdin: Writable;
  readonly stdout: Readable;
  /** Settles once, when the tool has ended and its output is read, or could not start: how, in words. */
  readonly ended: Promise<string>;
  /** The last lines it wrote to stderr, to explain its end. */
  stderrTail(): string;
  /**
   * Whether the tool keeps Node's event loop alive: an idle helper must not hold up the exit of a process
   * that has nothing else to do, while one with a request in flight must.
   */
  hold(active: boolean): void;
  kill(signal?: NodeJS.Signals): void;
}

export interface PipedOptions {
  env?: Record<string, string | undefined>;
}

/** Starts a tool with piped stdin/stdout; it never throws: a tool that cannot start reports it in `ended`. */
export function startPipedTool(file: string, args: readonly string[], options: PipedOptions = {}): PipedTool {
  const child = spawn(file, args, {
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4096);
  });
  // A write to a tool that has just died fails with EPIPE; `ended` tells the caller, not a crash.
  child.stdin.on('error', () => {});
  const ended = new Promise<string>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      resolve(
        err.code === 'ENOENT' ? `${file} is not installed (not found on PATH)` : `${file}: ${err.message}`,
      );
    });
    child.once('close', (code, signal) => {
      resolve(signal ? `${file} was killed by ${signal}` : `${file} exited with status ${code}`);
    });
  });
  // Node's pipes to a child are sockets, which can be unref'd like the child itself.
  const handles = [child, child.stdin, child.stdout, child.stderr] as unknown as Array<{
    ref(): unknown;
    unref(): unknown;
  }>;
  return {
    pid: child.pid,
    stdin: child.stdin,
    stdout: child.stdout,
    ended,
    stderrTail: () =>
      stderr
        .split('\n')
        .map((l) => l.trimEnd())
        .filter((l) => l !== '')
        .slice(-TAIL_LINES / 2)
        .join('\n  '),
    hold(active) {
      for (const handle of handles) {
        if (active) handle.ref();
        else handle.unref();
      }
    },
    kill(signal = 'SIGTERM') {
      child.kill(signal);
    },
  };
}
