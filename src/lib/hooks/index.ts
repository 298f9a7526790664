/** A workload's pre-checkpoint and post-restore hooks: their form, their one-line grammar, their running. */
export { formatHook, HOOK_GRAMMAR, parseHook, parseWorkloadHooks } from './grammar.js';
export { createHookRunner, type HookRunner } from './run-hook.js';
export {
  assertHooks,
  DEFAULT_HOOK_HOST,
  DEFAULT_HOOK_TIMEOUT_MS,
  type Hook,
  type WorkloadHooks,
} from './types.js';
