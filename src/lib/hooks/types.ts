/**
 * A workload's hooks (docs/hooks.md): what the agent asks of a workload just before a checkpoint (shrink
 * what must be saved: vLLM's sleep mode, https://docs.vllm.ai/en/latest/features/sleep_mode/) and right
 * after a restore (wake, reconnect, re-seed: Lambda SnapStart's runtime hooks,
 * https://docs.aws.amazon.com/lambda/latest/dg/snapstart-runtime-hooks.html). A hook is an HTTP request
 * made from inside the workload's network namespace, or a command run in the workload's namespaces, each
 * bounded by a timeout. Every hook, whichever way it came (annotation, flag, gRPC), passes `hookProblems`.
 */
import { isIP } from 'node:net';
import { ErrorCode, type ErrorDetail, SnapbackError } from '../../errors.js';

/** An HTTP request to the workload, as Kubernetes' httpGet handler but with any method. */
export interface HttpHook {
  kind: 'http';
  method: string;
  /** An IP literal or `localhost`, as seen inside the workload's network namespace. */
  host: string;
  port: number;
  /** Path and query, e.g. `/sleep?level=1`. */
  path: string;
  timeoutMs: number;
}

/** A command run in the workload's namespaces, as the container sees it (Kubernetes' exec handler). */
export interface ExecHook {
  kind: 'exec';
  command: string[];
  timeoutMs: number;
}

export type Hook = HttpHook | ExecHook;

/** A workload's two hooks; either may be absent. */
export interface WorkloadHooks {
  /** Before the checkpoint: quiesce (free caches, drop connections, flush). */
  preCheckpoint?: Hook;
  /** After a restore (and on the original, after a checkpoint that quiesced it): wake. */
  postRestore?: Hook;
}

export const DEFAULT_HOOK_TIMEOUT_MS = 30_000;
export const MAX_HOOK_TIMEOUT_MS = 10 * 60_000;
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export const DEFAULT_HOOK_HOST = '127.0.0.1';
const MAX_PATH_LENGTH = 2048;
const MAX_COMMAND_ARGS = 64;
const MAX_COMMAND_BYTES = 16 * 1024;

/** What is wrong with a hook, each problem under `field` (e.g. `hooks.preCheckpoint.port`); empty if none. */
export function hookProblems(hook: Hook, field: string): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const problem = (name: string, message: string) => problems.push({ field: `${field}.${name}`, message });
  if (!Number.isInteger(hook.timeoutMs) || hook.timeoutMs < 1 || hook.timeoutMs > MAX_HOOK_TIMEOUT_MS)
    problem('timeout', `must be between 1 ms and ${MAX_HOOK_TIMEOUT_MS / 60_000} min`);
  if (hook.kind === 'http') {
    if (!(HTTP_METHODS as readonly string[]).includes(hook.method))
      problem('method', `must be one of ${HTTP_METHODS.join(', ')}`);
    if (hook.host !== 'localhost' && isIP(hook.host) === 0)
      problem('host', 'must be an IP address or localhost (it is reached inside the workload)');
    if (!Number.isInteger(hook.port) || hook.port < 1 || hook.port > 65535)
      problem('port', 'must be a port number, 1 to 65535');
    if (!/^\/[\x21-\x7e]*$/.test(hook.path) || hook.path.length > MAX_PATH_LENGTH)
      problem(
        'path',
        `must start with "/" and hold no spaces or control characters (at most ${MAX_PATH_LENGTH})`,
      );
  } else {
    const bytes = hook.command.reduce((sum, arg) => sum + Buffer.byteLength(arg), 0);
    if (hook.command.length === 0 || hook.command[0] === '') problem('command', 'must name a program to run');
    else if (hook.command.length > MAX_COMMAND_ARGS || bytes > MAX_COMMAND_BYTES)
      problem('command', `must have at most ${MAX_COMMAND_ARGS} arguments and ${MAX_COMMAND_BYTES} bytes`);
    else if (hook.command.some((arg) => arg.includes('\0'))) problem('command', 'must not contain NUL');
  }
  return problems;
}

/** The hooks, or INVALID_ARGUMENT naming every problem (`where` says where they came from). */
export function assertHooks(hooks: WorkloadHooks, where: string): WorkloadHooks {
  const problems = [
    ...(hooks.preCheckpoint ? hookProblems(hooks.preCheckpoint, `${where}.preCheckpoint`) : []),
    ...(hooks.postRestore ? hookProblems(hooks.postRestore, `${where}.postRestore`) : []),
  ];
  if (problems.length > 0) {
    throw new SnapbackError(
      ErrorCode.INVALID_ARGUMENT,
      `invalid hooks: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`,
      { details: problems },
    );
  }
  return hooks;
}
