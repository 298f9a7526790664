/**
 * A workload's hooks between the contract (`WorkloadHooks` of proto/snapback/agent/v1/agent.proto) and
 * their form in src/lib/hooks. What arrives is checked like every other input: a hook that is not one is
 * INVALID_ARGUMENT naming the field (`hooks.preCheckpoint.port`), never run.
 */
import { ErrorCode, SnapbackError } from '../errors.js';
import type {
  Hook as HookMessage,
  WorkloadHooks as WorkloadHooksMessage,
} from '../generated/snapback/agent/v1/agent.js';
import {
  assertHooks,
  DEFAULT_HOOK_HOST,
  DEFAULT_HOOK_TIMEOUT_MS,
  type Hook,
  type WorkloadHooks,
} from '../lib/hooks/index.js';

/** The request's hooks, checked; undefined when it carries none. */
export function hooksFromMessage(message: WorkloadHooksMessage | undefined): WorkloadHooks | undefined {
  if (message === undefined) return undefined;
  const hooks: WorkloadHooks = {
    ...(message.preCheckpoint ? { preCheckpoint: hookOf(message.preCheckpoint, 'hooks.preCheckpoint') } : {}),
    ...(message.postRestore ? { postRestore: hookOf(message.postRestore, 'hooks.postRestore') } : {}),
  };
  if (hooks.preCheckpoint === undefined && hooks.postRestore === undefined) return undefined;
  return assertHooks(hooks, 'hooks');
}

function hookOf(message: HookMessage, field: string): Hook {
  const timeoutMs = message.timeoutMs || DEFAULT_HOOK_TIMEOUT_MS;
  if (message.http !== undefined && message.exec === undefined) {
    const { method, host, port, path } = message.http;
    return { kind: 'http', method, host: host || DEFAULT_HOOK_HOST, port, path: path || '/', timeoutMs };
  }
  if (message.exec !== undefined && message.http === undefined)
    return { kind: 'exec', command: message.exec.command, timeoutMs };
  throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, `${field} must be either http or exec`, {
    details: [{ field, message: 'must be either http or exec' }],
  });
}

/** The hooks as the contract carries them. */
export function hooksToMessage(hooks: WorkloadHooks): WorkloadHooksMessage {
  return {
    preCheckpoint: hooks.preCheckpoint ? hookToMessage(hooks.preCheckpoint) : undefined,
    postRestore: hooks.postRestore ? hookToMessage(hooks.postRestore) : undefined,
  };
}

function hookToMessage(hook: Hook): HookMessage {
  return hook.kind === 'http'
    ? {
        http: { method: hook.method, host: hook.host, port: hook.port, path: hook.path },
        exec: undefined,
        timeoutMs: hook.timeoutMs,
      }
    : { http: undefined, exec: { command: hook.command }, timeoutMs: hook.timeoutMs };
}
