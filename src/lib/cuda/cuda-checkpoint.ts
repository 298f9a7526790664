/**
 * NVIDIA's `cuda-checkpoint` utility (https://github.com/NVIDIA/cuda-checkpoint), driven through the shared
 * runner. The CLI contract followed here (driver ≥ 555; `--device-map` from 580):
 *
 *   cuda-checkpoint --get-state --pid P            prints running | locked | checkpointed | failed
 *   cuda-checkpoint --action lock --pid P [--timeout MS]
 *   cuda-checkpoint --action checkpoint | restore | unlock --pid P
 *   cuda-checkpoint --action restore --pid P --device-map OLD=NEW,...
 *   cuda-checkpoint --get-restore-tid --pid P
 *
 * It exits 0 on success and non-zero with a message such as `Could not lock on process ID P: "…"` otherwise.
 * A PID without a CUDA context is answered with such an error too; CRIU's CUDA plugin and Modal's wrapper
 * read exactly that as "not a CUDA process", and so do we (getState → undefined).
 */
import pLimit from 'p-limit';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { type Runner, type RunOptions, type RunResult, ToolError } from '../tools/index.js';
import { withStdout } from './tool-output.js';

/** The states the driver reports (CUprocessState). `failed` means an unrecoverable checkpoint/restore error. */
export const CudaState = {
  RUNNING: 'running',
  LOCKED: 'locked',
  CHECKPOINTED: 'checkpointed',
  FAILED: 'failed',
} as const;
export type CudaState = (typeof CudaState)[keyof typeof CudaState];

/** The four `--action` verbs, in the order a checkpoint then a restore uses them. */
export const CudaAction = {
  LOCK: 'lock',
  CHECKPOINT: 'checkpoint',
  RESTORE: 'restore',
  UNLOCK: 'unlock',
} as const;
export type CudaAction = (typeof CudaAction)[keyof typeof CudaAction];

/**
 * How CUDA's checkpoint API is reached: `tool` runs NVIDIA's cuda-checkpoint once per action (each run
 * initialises CUDA anew); `driver` asks snapback-cuda-helper, one long-lived process that initialised CUDA
 * once and calls libcuda's cuCheckpointProcess* functions (driver-helper.ts).
 */
export const CudaBackend = {
  DRIVER: 'driver',
  TOOL: 'tool',
} as const;
export type CudaBackend = (typeof CudaBackend)[keyof typeof CudaBackend];

export type CudaAvailability =
  | {
      ok: true;
      /**
       * `tool`: from the `Version 580.65.06.` line of `--help`, when it has one. `driver`: the CUDA version
       * the driver implements (cuDriverGetVersion), e.g. `13.0`.
       */
      version?: string;
      /** Whether a device map is understood (driver ≥ 580): needed to restore onto other GPUs. */
      deviceMap: boolean;
    }
  | { ok: false; reason: string };

export interface CudaCheckpointOptions {
  /** Executable name or path (default `cuda-checkpoint`, looked up on PATH). */
  binary?: string;
  run: Runner;
  /** How long a lock may wait for in-flight CUDA work (passed as `--timeout`). Default 10 s. */
  lockTimeoutMs?: number;
  /** Upper bound for any other call; checkpoint and restore copy device memory, so be generous. Default 5 min. */
  actionTimeoutMs?: number;
}

/**
 * CUDA's checkpoint API for many processes: over the cuda-checkpoint tool (`createCudaCheckpoint`, every
 * method through the runner it was built with) or over the driver helper (`createDriverCheckpoint`).
 * Failures name the driver's own reason (the tool's message, or the CUresult's name).
 */
export interface CudaCheckpoint {
  readonly backend: CudaBackend;
  /** The tool, or the helper, this binding runs. */
  readonly binary: string;
  /** Never throws for a missing or too-old tool: says why instead. */
  available(signal?: AbortSignal): Promise<CudaAvailability>;
  /** Like `available`, but a missing or too-old tool is a FAILED_PRECONDITION naming it. */
  ensureAvailable(signal?: AbortSignal): Promise<Extract<CudaAvailability, { ok: true }>>;
  /** The CUDA state of `pid`, or undefined when it has no CUDA context (or no longer exists). */
  getState(pid: number, signal?: AbortSignal): Promise<CudaState | undefined>;
  /** Those of `pids` the tool answers a state for, in the order given. */
  findCudaPids(pids: readonly number[], signal?: AbortSignal): Promise<number[]>;
  lock(pid: number, signal?: AbortSignal): Promise<void>;
  checkpoint(pid: number, signal?: AbortSignal): Promise<void>;
  /** `deviceMap` is the `OLD=NEW,...` string from `buildDeviceMap`; undefined restores onto the same GPUs. */
  restore(pid: number, deviceMap?: string, signal?: AbortSignal): Promise<void>;
  unlock(pid: number, signal?: AbortSignal): Promise<void>;
  /** The CUDA restore thread of `pid`, or undefined when it has none (not a CUDA process). */
  getRestoreTid(pid: number, signal?: AbortSignal): Promise<number | undefined>;
  /** Ends what the binding keeps running (the driver helper); calls after it start afresh. */
  close(): Promise<void>;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
export const DEFAULT_ACTION_TIMEOUT_MS = 300_000;
/** The driver enforces the lock timeout itself; our own bound only catches a lock that ignores it. */
export const LOCK_GRACE_MS = 5_000;
const HELP_TIMEOUT_MS = 10_000;
/** Probing a big process tree one PID at a time would be slow; all at once would fork hundreds of tools. */
const PROBE_CONCURRENCY = 8;

const states: ReadonlySet<string> = new Set(Object.values(CudaState));

/** Parses `--get-state` output; undefined for anything that is not one of the four states. */
export function parseCudaState(stdout: string): CudaState | undefined {
  const word = stdout.trim().toLowerCase();
  return states.has(word) ? (word as CudaState) : undefined;
}

/** Reads what `--help` tells about the tool: whether it is new enough, and its version. */
export function parseCudaHelp(help: string, binary = 'cuda-checkpoint'): CudaAvailability {
  const version = /Version\s+(\d+(?:\.\d+)*)/.exec(help)?.[1];
  if (!help.includes('--action')) {
    return {
      ok: false,
      reason:
        `${binary}${version ? ` ${version}` : ''} is too old: its --help has no --action ` +
        '(lock/checkpoint/restore/unlock need driver 555 or newer)',
    };
  }
  return {
    ok: true,
    ...(version === undefined ? {} : { version }),
    deviceMap: help.includes('--device-map'),
  };
}

export function createCudaCheckpoint(options: CudaCheckpointOptions): CudaCheckpoint {
  const binary = options.binary ?? 'cuda-checkpoint';
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const actionTimeoutMs = options.actionTimeoutMs ?? DEFAULT_ACTION_TIMEOUT_MS;

  const call = async (args: readonly string[], runOptions: RunOptions): Promise<RunResult> => {
    try {
      return await options.run(binary, args, runOptions);
    } catch (err) {
      throw withStdout(err);
    }
  };

  /** Runs a query whose non-zero exit means "no CUDA context here" rather than a failure. */
  const query = async (args: readonly string[], signal?: AbortSignal): Promise<string | undefined> => {
    try {
      const { stdout } = await options.run(binary, args, { timeoutMs: actionTimeoutMs, signal });
      return stdout;
    } catch (err) {
      if (err instanceof ToolError && err.result.exitCode > 0) return undefined;
      throw err;
    }
  };

  const action = async (name: CudaAction, pid: number, extra: readonly string[], signal?: AbortSignal) => {
    const timeoutMs = name === CudaAction.LOCK ? lockTimeoutMs + LOCK_GRACE_MS : actionTimeoutMs;
    await call(['--action', name, '--pid', String(pid), ...extra], { timeoutMs, signal });
  };

  const self: CudaCheckpoint = {
    backend: CudaBackend.TOOL,
    binary,
    async available(signal) {
      try {
        const { stdout, stderr } = await options.run(binary, ['--help'], {
          timeoutMs: HELP_TIMEOUT_MS,
          signal,
        });
        return parseCudaHelp(`${stdout}\n${stderr}`, binary);
      } catch (err) {
        const e = SnapbackError.from(err);
        if (e.code === ErrorCode.CANCELLED) throw e;
        return { ok: false, reason: e.message };
      }
    },
    async ensureAvailable(signal) {
      const found = await self.available(signal);
      if (!found.ok) {
        throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, found.reason);
      }
      return found;
    },
    async getState(pid, signal) {
      const stdout = await query(['--get-state', '--pid', String(pid)], signal);
      if (stdout === undefined) return undefined;
      const state = parseCudaState(stdout);
      if (state === undefined) {
        throw new SnapbackError(
          ErrorCode.INTERNAL,
          `${binary} --get-state --pid ${pid} printed an unknown state: ${JSON.stringify(stdout.slice(0, 200))}`,
        );
      }
      return state;
    },
    async findCudaPids(pids, signal) {
      const found = await pLimit(PROBE_CONCURRENCY).map(pids, async (pid) => {
        return (await self.getState(pid, signal)) !== undefined;
      });
      return pids.filter((_, i) => found[i]);
    },
    lock: (pid, signal) => action(CudaAction.LOCK, pid, ['--timeout', String(lockTimeoutMs)], signal),
    checkpoint: (pid, signal) => action(CudaAction.CHECKPOINT, pid, [], signal),
    restore: (pid, deviceMap, signal) =>
      action(CudaAction.RESTORE, pid, deviceMap === undefined ? [] : ['--device-map', deviceMap], signal),
    unlock: (pid, signal) => action(CudaAction.UNLOCK, pid, [], signal),
    async getRestoreTid(pid, signal) {
      const stdout = await query(['--get-restore-tid', '--pid', String(pid)], signal);
      if (stdout === undefined) return undefined;
      const tid = Number(stdout.trim());
      if (!Number.isSafeInteger(tid) || tid <= 0) {
        throw new SnapbackError(
          ErrorCode.INTERNAL,
          `${binary} --get-restore-tid --pid ${pid} printed no thread id: ${JSON.stringify(stdout.slice(0, 200))}`,
        );
      }
      return tid;
    },
    // Every run of the tool ends by itself.
    close: async () => {},
  };
  return self;
}
