/**
 * Runs a hook against a workload from the node, with nothing of snapback in the workload's image:
 *
 * - HTTP: `nsenter -t PID -n` starts the agent's own Node on a tiny client (netns-http.child.ts) inside the
 *   workload's network namespace only. The mount namespace stays the agent's, so Node and the client are
 *   the agent's files whatever the image holds; and a server listening on the container's loopback is
 *   reached there, which no request from the node's network namespace could do. The same path serves both
 *   runtimes: under the process runtime the workload shares the node's network namespace, and entering it
 *   changes nothing. (curl may not be on the node nor in the image; `snapback hook` would load all of
 *   snapback first, seconds from source; the agent cannot enter a namespace itself: setns(2) applies to one
 *   thread, and Node's event loop runs on many.)
 * - exec: `nsenter -t PID -m -u -i -n -p -r -w` with the workload's user, group and environment: the command
 *   as the container sees it (its files, its hostname, its network, its pids), like `kubectl exec`.
 *
 * Each run is a process group of its own, killed whole when the hook's timeout passes or the caller aborts:
 * nsenter forks for a pid namespace and does not pass signals on to the command it forked.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { formatHook } from './grammar.js';
import type { ExecHook, Hook, HttpHook } from './types.js';

export interface HookRunner {
  /**
   * Runs `hook` in the namespaces of host pid `pid`; resolves with what the workload answered, in words.
   * A hook that fails or times out is FAILED_PRECONDITION naming it; an abort is the signal's reason.
   */
  run(hook: Hook, pid: number, signal?: AbortSignal): Promise<string>;
}

export interface HookRunnerOptions {
  /** nsenter (util-linux); found on PATH when not given. */
  nsenter?: string;
  /** The Node binary for HTTP hooks: this process's own unless given. */
  node?: string;
}

const OUTPUT_LIMIT = 4096;
/** How long stdio may stay open after the hook's process ended (a background child may hold it). */
const DRAIN_MS = 200;

export function createHookRunner(options: HookRunnerOptions = {}): HookRunner {
  const node = options.node ?? process.execPath;
  let nsenter = options.nsenter;
  const nsenterPath = () => {
    nsenter ??= onPath('nsenter');
    return nsenter;
  };
  return {
    async run(hook, pid, signal) {
      signal?.throwIfAborted();
      const run =
        hook.kind === 'http'
          ? await bounded(nsenterPath(), httpArgs(hook, pid, node), {}, hook.timeoutMs, signal)
          : await bounded(
              nsenterPath(),
              await execArgs(hook, pid),
              await environOf(pid),
              hook.timeoutMs,
              signal,
            );
      if (run.aborted) throw SnapbackError.from(signal?.reason, ErrorCode.CANCELLED);
      const failed = (why: string) =>
        new SnapbackError(ErrorCode.FAILED_PRECONDITION, `hook ${formatHook(hook)} ${why}`);
      if (run.timedOut) throw failed(`did not finish within ${formatMs(hook.timeoutMs)}`);
      return hook.kind === 'http' ? judgeHttp(run, failed) : judgeExec(run, failed);
    },
  };
}

function httpArgs(hook: HttpHook, pid: number, node: string): string[] {
  const fromSource = import.meta.url.endsWith('.ts');
  const client = fileURLToPath(new URL(`./netns-http.child.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  return [
    '-t',
    String(pid),
    '-n',
    '--',
    node,
    client,
    hook.method,
    hook.host,
    String(hook.port),
    hook.path,
    String(hook.timeoutMs),
  ];
}

async function execArgs(hook: ExecHook, pid: number): Promise<string[]> {
  const { uid, gid } = await idsOf(pid);
  return [
    '-t',
    String(pid),
    ...['-m', '-u', '-i', '-n', '-p', '-r', '-w'],
    ...['-S', String(uid), '-G', String(gid)],
    '--',
    ...hook.command,
  ];
}

function judgeHttp(run: Finished, failed: (why: string) => SnapbackError): string {
  let answer: { status?: number; body?: string; error?: string };
  try {
    answer = JSON.parse(run.stdout.trim().split('\n').pop() ?? '') as typeof answer;
  } catch {
    throw failed(`could not be sent: ${tail(run.stderr) || `the client exited with status ${run.code}`}`);
  }
  if (answer.error !== undefined) throw failed(`could not be sent: ${answer.error}`);
  const status = answer.status ?? 0;
  const body = (answer.body ?? '').replace(/\s+/g, ' ').trim().slice(0, 200);
  if (status < 200 || status > 299) throw failed(`answered ${status}${body === '' ? '' : `: ${body}`}`);
  return `answered ${status}`;
}

function judgeExec(run: Finished, failed: (why: string) => SnapbackError): string {
  if (run.code === 0) return 'exited with status 0';
  const how = run.code === null ? `was killed by ${run.signal}` : `exited with status ${run.code}`;
  const said = tail(run.stderr) || tail(run.stdout);
  throw failed(`${how}${said === '' ? '' : `: ${said}`}`);
}

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  aborted: boolean;
}

/** Runs a process group to its end, its timeout or the abort, whichever comes first. */
async function bounded(
  file: string,
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Finished> {
  const child = spawn(file, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream].setEncoding('utf8');
    child[stream].on('data', (chunk: string) => {
      if (output[stream].length < OUTPUT_LIMIT)
        output[stream] += chunk.slice(0, OUTPUT_LIMIT - output[stream].length);
    });
  }
  let timedOut = false;
  let aborted = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, timeoutMs);
  const onAbort = () => {
    aborted = true;
    killGroup(child);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const [code, exitSignal] = await new Promise<[number | null, NodeJS.Signals | null]>(
      (resolve, reject) => {
        child.once('error', (err: NodeJS.ErrnoException) =>
          reject(
            new SnapbackError(
              ErrorCode.FAILED_PRECONDITION,
              err.code === 'ENOENT' ? `${file} is not installed` : `cannot run ${file}: ${err.message}`,
              { cause: err },
            ),
          ),
        );
        child.once('exit', (c, s) => resolve([c, s]));
      },
    );
    await drained(child);
    return { code, signal: exitSignal, ...output, timedOut, aborted };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

async function drained(child: ChildProcess): Promise<void> {
  if (child.stdout?.closed && child.stderr?.closed) return;
  await Promise.race([
    new Promise((resolve) => child.once('close', resolve)),
    new Promise((resolve) => setTimeout(resolve, DRAIN_MS)),
  ]);
  child.stdout?.destroy();
  child.stderr?.destroy();
}

/** The workload's environment, as its own processes see it (a command hook gets the same). */
async function environOf(pid: number): Promise<Record<string, string>> {
  const text = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => {
    throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, `process ${pid} is gone: no hook can reach it`);
  });
  const env: Record<string, string> = {};
  for (const entry of text.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** The real uid and gid of `pid` (procfs status). */
async function idsOf(pid: number): Promise<{ uid: number; gid: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
  const ids = { uid: field('Uid'), gid: field('Gid') };
  if (Number.isNaN(ids.uid) || Number.isNaN(ids.gid))
    throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, `process ${pid} is gone: no hook can reach it`);
  return ids;
}

function onPath(tool: string): string {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter).filter(Boolean)) {
    const path = join(dir, tool);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // Not in this folder.
    }
  }
  throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, `${tool} is not installed (not found on PATH)`);
}

function tail(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ').slice(0, 300);
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
