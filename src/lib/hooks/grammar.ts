/**
 * The one-line form of a hook, shared by the pod annotations (`snapback.io/pre-checkpoint`,
 * `snapback.io/post-restore`) and `snapback run --pre-checkpoint/--post-restore` (docs/hooks.md):
 *
 *   http METHOD [HOST]:PORT[/PATH] [timeout=DURATION]     e.g. http POST :8000/sleep?level=1 timeout=2m
 *   exec JSON-ARRAY [timeout=DURATION]                    e.g. exec ["/bin/sh","-c","kill -USR1 1"] timeout=5s
 *
 * HOST is an IP literal (IPv6 in brackets) or `localhost`, 127.0.0.1 when left out; DURATION is a whole
 * number of ms, s or m (30s when left out). The command is a JSON array of strings, so that arguments
 * need no shell quoting rules of their own; it is run as is, not through a shell.
 */
import { ErrorCode, SnapbackError } from '../../errors.js';
import {
  DEFAULT_HOOK_HOST,
  DEFAULT_HOOK_TIMEOUT_MS,
  type Hook,
  hookProblems,
  type WorkloadHooks,
} from './types.js';

/** The grammar, for error messages and help. */
export const HOOK_GRAMMAR =
  'http METHOD [HOST]:PORT[/PATH] [timeout=DURATION] | exec ["CMD","ARG",…] [timeout=DURATION]';

const DURATION = /^(\d{1,7})(ms|s|m)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000 } as const;
const ADDRESS = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:/[\]]*)):(\d{1,5})(\/.*)?$/;

/**
 * Parses one hook. `source` names where it came from — an annotation (`annotation snapback.io/pre-checkpoint`)
 * or a flag (`--pre-checkpoint`) — and every error names it: INVALID_ARGUMENT with that detail field.
 */
export function parseHook(text: string, source: string): Hook {
  const fail = (why: string): never => {
    throw new SnapbackError(
      ErrorCode.INVALID_ARGUMENT,
      `${source} "${text}": ${why} (expected ${HOOK_GRAMMAR})`,
      {
        details: [{ field: source, message: `${why} (expected ${HOOK_GRAMMAR})` }],
      },
    );
  };
  const trimmed = text.trim();
  const kind = /^\S+/.exec(trimmed)?.[0];
  const rest = trimmed.slice(kind?.length ?? 0).trim();
  let hook: Hook;
  if (kind === 'http') {
    const [method, address, ...options] = rest.split(/\s+/);
    if (method === undefined || method === '' || address === undefined)
      return fail('an http hook needs a method and [HOST]:PORT/PATH');
    const parts = ADDRESS.exec(address);
    if (parts === null) return fail(`"${address}" is not [HOST]:PORT/PATH`);
    hook = {
      kind: 'http',
      method,
      host: parts[1] ?? (parts[2] || DEFAULT_HOOK_HOST),
      port: Number(parts[3]),
      path: parts[4] ?? '/',
      timeoutMs: timeoutOf(options, fail),
    };
  } else if (kind === 'exec') {
    // Options never hold "]": the array ends at the last one.
    const end = rest.lastIndexOf(']');
    if (!rest.startsWith('[') || end === -1) return fail('an exec hook needs its command as a JSON array');
    let command: unknown;
    try {
      command = JSON.parse(rest.slice(0, end + 1));
    } catch {
      return fail('the command is not a JSON array');
    }
    if (!Array.isArray(command) || !command.every((arg): arg is string => typeof arg === 'string'))
      return fail('the command must be a JSON array of strings');
    const options = rest.slice(end + 1).trim();
    hook = { kind: 'exec', command, timeoutMs: timeoutOf(options === '' ? [] : options.split(/\s+/), fail) };
  } else {
    return fail(kind === undefined ? 'it is empty' : `"${kind}" is neither http nor exec`);
  }
  const problems = hookProblems(hook, source);
  if (problems.length > 0)
    fail(problems.map((p) => `${p.field.slice(source.length + 1)} ${p.message}`).join('; '));
  return hook;
}

function timeoutOf(options: readonly string[], fail: (why: string) => never): number {
  let timeoutMs = DEFAULT_HOOK_TIMEOUT_MS;
  for (const option of options) {
    const [key, value = ''] = option.split('=', 2);
    if (key !== 'timeout') fail(`unknown option "${option}" (known: timeout=DURATION)`);
    const duration = DURATION.exec(value);
    if (duration === null) fail(`timeout "${value}" is not a whole number of ms, s or m (e.g. 30s)`);
    timeoutMs = Number(duration![1]) * UNIT_MS[duration![2] as keyof typeof UNIT_MS];
  }
  return timeoutMs;
}

/** The hook in the one-line form `parseHook` reads (the inverse of parsing, for logs and messages). */
export function formatHook(hook: Hook): string {
  const timeout = `timeout=${hook.timeoutMs % 1000 === 0 ? `${hook.timeoutMs / 1000}s` : `${hook.timeoutMs}ms`}`;
  if (hook.kind === 'exec') return `exec ${JSON.stringify(hook.command)} ${timeout}`;
  const host = hook.host === DEFAULT_HOOK_HOST ? '' : hook.host.includes(':') ? `[${hook.host}]` : hook.host;
  return `http ${hook.method} ${host}:${hook.port}${hook.path} ${timeout}`;
}

/** Both hooks from their one-line forms (either may be absent), each error naming its `sources` entry. */
export function parseWorkloadHooks(
  texts: { preCheckpoint?: string | undefined; postRestore?: string | undefined },
  sources: { preCheckpoint: string; postRestore: string },
): WorkloadHooks | undefined {
  const hooks: WorkloadHooks = {
    ...(texts.preCheckpoint === undefined
      ? {}
      : { preCheckpoint: parseHook(texts.preCheckpoint, sources.preCheckpoint) }),
    ...(texts.postRestore === undefined
      ? {}
      : { postRestore: parseHook(texts.postRestore, sources.postRestore) }),
  };
  return hooks.preCheckpoint === undefined && hooks.postRestore === undefined ? undefined : hooks;
}
