/**
 * The processes of the demo, started as users start them: `snapback agent` and `snapback function all`
 * (local mode) as children, their logs in files, each stopped with SIGTERM (then SIGKILL) at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { snapbackCommand } from '../cli/self.js';
import { ErrorCode, SnapbackError } from '../errors.js';

export interface ChildService {
  name: string;
  process: ChildProcess;
  logFile: string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

interface SpawnOptions {
  name: string;
  args: string[];
  logFile: string;
  env?: Record<string, string>;
  /** Each line the child writes (stdout and stderr), as it comes. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

function spawnSnapback(options: SpawnOptions): ChildService {
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const command = snapbackCommand(options.args, { ...process.env, ...options.env });
  const child = spawn(command.file, command.args, { env: command.env, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of ['stdout', 'stderr'] as const) {
    const lines = createInterface({ input: child[stream]! });
    lines.on('line', (line) => {
      log.write(`${line}\n`);
      options.onLine?.(line, stream);
    });
  }
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  exited.then(() => log.end());
  return {
    name: options.name,
    process: child,
    logFile: options.logFile,
    async stop(graceMs = 20_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Waits until `probe` finds what it looks for, the child exits, the time runs out or `signal` aborts. */
async function readyOf<T>(
  service: ChildService,
  probe: () => T | undefined,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    signal.throwIfAborted();
    const found = probe();
    if (found !== undefined) return found;
    const { exitCode, signalCode } = service.process;
    if (exitCode !== null || signalCode !== null) {
      throw new SnapbackError(
        ErrorCode.FAILED_PRECONDITION,
        `${service.name} exited (${exitCode ?? signalCode}) before it was ready; see ${service.logFile}`,
      );
    }
    if (performance.now() > deadline) {
      throw new SnapbackError(
        ErrorCode.DEADLINE_EXCEEDED,
        `${service.name} was not ready in time; see ${service.logFile}`,
      );
    }
    await sleep(25, undefined, { signal });
  }
}

export interface AgentOptions {
  /** More flags for `snapback agent` (e.g. another runtime). */
  extraArgs?: readonly string[];
  storage: string;
  stateDir: string;
  node: string;
  logFile: string;
  signal: AbortSignal;
  /** Environment over this process's (e.g. the object storage's endpoint and credentials). */
  env?: Record<string, string>;
}

/** `snapback agent` on a loopback port of its choosing; resolves with its address once it listens. */
export async function startAgentProcess(
  options: AgentOptions,
): Promise<{ address: string; service: ChildService }> {
  let address: string | undefined;
  const service = spawnSnapback({
    name: 'the agent',
    args: [
      'agent',
      '--listen',
      '127.0.0.1:0',
      '--storage',
      options.storage,
      '--state-dir',
      options.stateDir,
      ...(options.extraArgs ?? []),
    ],
    env: { ...options.env, NODE_NAME: options.node },
    logFile: options.logFile,
    onLine: (line, stream) => {
      if (stream === 'stdout') address ??= /^agent listening on (\S+)/.exec(line)?.[1];
    },
  });
  try {
    return { address: await readyOf(service, () => address, 60_000, options.signal), service };
  } catch (err) {
    await service.stop(2_000);
    throw err;
  }
}

export interface FunctionsOptions {
  agent: string;
  node: string;
  providerId: string;
  /** Completion events go here; without one they are the HTTP replies. */
  sink?: string;
  /** `debug` by default: progress of dispatched operations is logged at debug. */
  logLevel?: string;
  logFile: string;
  signal: AbortSignal;
  /** Each JSON log line of the functions (progress of dispatched operations is logged at debug). */
  onLog?: (entry: Record<string, unknown>) => void;
}

/** `snapback function all` in local mode, on a loopback port of its choosing; resolves with its URL. */
export async function startFunctionsProcess(
  options: FunctionsOptions,
): Promise<{ url: string; service: ChildService }> {
  let port: number | undefined;
  const service = spawnSnapback({
    name: 'the functions',
    args: ['function', 'all', '--port', '0', '--agent', options.agent, '--node', options.node],
    env: {
      SNAPBACK_PROVIDER_ID: options.providerId,
      SNAPBACK_LOG_LEVEL: options.logLevel ?? 'debug',
      ...(options.sink === undefined ? {} : { K_SINK: options.sink }),
    },
    logFile: options.logFile,
    onLine: (line) => {
      if (!line.startsWith('{')) return;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (entry['msg'] === 'functions listening' && typeof entry['port'] === 'number') port ??= entry['port'];
      options.onLog?.(entry);
    },
  });
  try {
    const ready = await readyOf(service, () => port, 60_000, options.signal);
    return { url: `http://127.0.0.1:${ready}/`, service };
  } catch (err) {
    await service.stop(2_000);
    throw err;
  }
}

/** Runs one `snapback` client command to its end; rejects with its stderr when it fails. */
export async function runSnapback(args: string[], signal: AbortSignal): Promise<string> {
  const command = snapbackCommand(args);
  const child = spawn(command.file, command.args, {
    env: command.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    signal,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  }).catch((err: unknown) => {
    throw SnapbackError.from(err);
  });
  if (code !== 0) {
    throw new SnapbackError(ErrorCode.INTERNAL, `snapback ${args[0]} failed (${code}): ${stderr.trim()}`);
  }
  return stdout;
}
