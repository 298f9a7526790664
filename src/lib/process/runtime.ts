/**
 * The `process` runtime: the embedded default for one machine. Workloads are process trees the agent
 * started (launch.ts), known by name (registry.ts); a restore brings one back under the same or a new
 * name, beside the original if it still runs (each lives in its own PID namespace).
 */
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { firstExtraFd } from '../criu/index.js';
import type { WorkloadHooks } from '../hooks/index.js';
import {
  formatListener,
  isRunning,
  isSameProcess,
  listenersOf,
  namespacePid,
  pidsWithIoUring,
  portClashes,
  processTree,
  type TcpListener,
} from '../procfs/index.js';
import type {
  Inspection,
  Phases,
  PreparedRestore,
  RestoreContext,
  Runtime,
  TargetRef,
} from '../runtime/index.js';
import { launchWorkload } from './launch.js';
import { assertWorkloadName, createWorkloadRegistry, type WorkloadRecord } from './registry.js';

export type { WorkloadRecord };

/** The manifest's `workload` of the process runtime: the record, and the TCP addresses it listened on. */
type CheckpointedWorkload = WorkloadRecord & { listening?: TcpListener[] };

export interface ProcessRuntimeOptions {
  stateDir: string;
  /** Path of snapback-no-io-uring (built from native/no-io-uring.c by `make setup`). */
  noIoUringLauncher: string;
  /** Path of snapback-init (native/snapback-init.c), each workload's init: it forwards signals. */
  init: string;
  /** Environment given to workloads, before a request's own variables. */
  baseEnv: Record<string, string>;
}

export interface StartRequest {
  name: string;
  command: string[];
  cwd: string;
  env: Record<string, string>;
  /** Kept with the workload (checked by the caller). */
  hooks?: WorkloadHooks;
}

export interface WorkloadStatus extends WorkloadRecord {
  running: boolean;
}

export interface ProcessRuntime extends Runtime {
  start(request: StartRequest): Promise<WorkloadStatus>;
  list(): Promise<WorkloadStatus[]>;
  /**
   * Stops a workload as `docker stop` does: SIGTERM, then SIGKILL after `graceMs` (0, the default: SIGKILL
   * at once). Stopping one that has already ended is no error.
   */
  stopByName(name: string, graceMs?: number): Promise<WorkloadStatus>;
}

export function createProcessRuntime(options: ProcessRuntimeOptions): ProcessRuntime {
  const registry = createWorkloadRegistry(options.stateDir);
  /** The record's process, still running: its pid, with the start time recorded beside it. */
  const runs = (record: WorkloadRecord) => isSameProcess(record.pid, record.startTime);
  const withStatus = async (record: WorkloadRecord): Promise<WorkloadStatus> => ({
    ...record,
    running: await runs(record),
  });
  const assertNameFree = async (name: string) => {
    const existing = await registry.get(name);
    if (existing !== undefined && (await runs(existing))) {
      throw new SnapbackError(
        ErrorCode.ALREADY_EXISTS,
        `a workload named ${name} is already running (pid ${existing.pid})`,
      );
    }
  };
  /** Refuses a restore whose workload would listen where something on this host already listens. */
  const assertPortsFree = async (checkpointId: string, listening: readonly TcpListener[]) => {
    const clashes = await portClashes(listening);
    if (clashes.length === 0) return;
    const running = (await Promise.all((await registry.list()).map(withStatus))).filter((w) => w.running);
    const trees = await Promise.all(running.map(async (w) => ({ w, pids: await processTree(w.pid) })));
    const owners = clashes.map(
      (c) => trees.find((t) => c.holder !== undefined && t.pids.includes(c.holder))?.w,
    );
    const taken = clashes.map((c, i) => {
      const owner = owners[i];
      const who = owner
        ? `workload ${owner.name} (pid ${owner.pid})`
        : c.holder
          ? `pid ${c.holder}`
          : 'another process';
      return `${formatListener(c.wanted)}, which ${who} holds`;
    });
    const names = [...new Set(owners.map((o) => o?.name))];
    const stop = names.every((n) => n !== undefined) ? ` (\`snapback stop ${names.join(' ')}\`)` : '';
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `checkpoint ${checkpointId} listens on ${taken.join('; ')}: workloads of the process runtime share the host's ports, so this copy cannot listen there too. Stop that first${stop}, or restore with --allow-port-clash if the program shares its ports (SO_REUSEPORT)`,
    );
  };
  /** Every task of the tree, stopped first so that none forks a child that escapes, then killed. */
  const killTree = async (root: number) => {
    const stopped = new Set<number>();
    for (let round = 0; round < 10; round++) {
      const fresh = (await processTree(root)).filter((pid) => !stopped.has(pid));
      if (fresh.length === 0) break;
      for (const pid of fresh) {
        stopped.add(pid);
        try {
          process.kill(pid, 'SIGSTOP');
        } catch {
          // already gone
        }
      }
    }
    await Promise.all([...stopped].map((pid) => killAndWait(pid)));
  };
  const killAndWait = async (pid: number) => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    for (let i = 0; i < 500 && (await isRunning(pid)); i++) await sleep(10);
  };
  /** SIGTERM (snapback-init forwards it to the command), then SIGKILL once `graceMs` has passed. */
  const terminate = async (record: WorkloadRecord, graceMs: number) => {
    if (graceMs > 0) {
      try {
        process.kill(record.pid, 'SIGTERM');
      } catch {
        return;
      }
      const deadline = performance.now() + graceMs;
      while (performance.now() < deadline && (await runs(record))) await sleep(20);
    }
    if (await runs(record)) await killAndWait(record.pid);
  };

  return {
    name: 'process',

    async start(request) {
      const name = assertWorkloadName(request.name);
      if (request.command.length === 0) {
        throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, 'a workload needs a command', {
          details: [{ field: 'command', message: 'must not be empty' }],
        });
      }
      await assertNameFree(name);
      const dir = registry.dirOf(name);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const record: WorkloadRecord = {
        name,
        pid: 0,
        command: request.command,
        cwd: request.cwd,
        stdoutPath: join(dir, 'stdout.log'),
        stderrPath: join(dir, 'stderr.log'),
        startedAt: new Date().toISOString(),
        ...(request.hooks === undefined ? {} : { hooks: request.hooks }),
      };
      record.pid = await launchWorkload({
        command: request.command,
        cwd: request.cwd,
        env: { ...options.baseEnv, ...request.env },
        stdoutPath: record.stdoutPath,
        stderrPath: record.stderrPath,
        noIoUringLauncher: options.noIoUringLauncher,
        init: options.init,
      });
      return withStatus(await registry.put(record));
    },

    async list() {
      return Promise.all((await registry.list()).map(withStatus));
    },

    async stopByName(name, graceMs = 0) {
      const record = await registry.get(assertWorkloadName(name));
      if (record === undefined) throw new SnapbackError(ErrorCode.NOT_FOUND, `no workload named ${name}`);
      // A pid reused by another process since is left alone: the workload has already ended.
      if (await runs(record)) await terminate(record, graceMs);
      return withStatus(record);
    },

    async inspect(target: TargetRef): Promise<Inspection> {
      const name = assertWorkloadName(target.pod);
      const record = await registry.get(name);
      if (record === undefined)
        throw new SnapbackError(ErrorCode.NOT_FOUND, `no workload named ${name} on this agent`);
      if (!(await runs(record))) {
        throw new SnapbackError(
          ErrorCode.FAILED_PRECONDITION,
          `workload ${name} is not running (pid ${record.pid} has exited)`,
        );
      }
      const pids = await processTree(record.pid);
      const withIoUring = await pidsWithIoUring(pids);
      if (withIoUring.length > 0) {
        throw new SnapbackError(
          ErrorCode.FAILED_PRECONDITION,
          `workload ${name} holds io_uring instances (pids ${withIoUring.join(', ')}), which CRIU cannot dump; ` +
            'start it through `snapback run` (io_uring blocked) or disable io_uring in the program',
        );
      }
      // Where it listens, so that a copy restored beside it can be refused before CRIU fails on the port.
      const listening = await listenersOf(pids);
      return {
        runtime: 'process',
        target: { namespace: target.namespace || 'default', pod: name },
        rootPid: record.pid,
        pids,
        placement: { via: [], foreignMounts: false },
        externals: [],
        dumpArgs: [],
        workload: { ...record, listening },
        identity: { owner: { kind: 'Workload', name }, container: '', image: record.command[0] ?? '' },
        description: `workload ${name} (pid ${record.pid})`,
        ...(record.hooks === undefined ? {} : { hooks: record.hooks }),
      };
    },

    async stop(inspection) {
      // SIGKILL, not SIGTERM: the checkpoint holds its state, and what it did on its way out (files
      // written, connections closed) would be past that state when it is restored.
      const record = await registry.get(inspection.target.pod);
      if (record !== undefined && record.pid === inspection.rootPid && (await runs(record)))
        await killAndWait(record.pid);
    },

    async prepareRestore(context: RestoreContext, phases: Phases): Promise<PreparedRestore> {
      return phases.run('setup', async () => {
        const { listening = [], ...original } = context.workload as unknown as CheckpointedWorkload;
        const name = assertWorkloadName(context.target?.pod || original.name);
        await assertNameFree(name);
        if (!context.allowPortClash) await assertPortsFree(context.checkpointId, listening);
        const dir = registry.dirOf(name);
        await mkdir(dir, { recursive: true, mode: 0o700 });
        const record: WorkloadRecord = {
          ...original,
          name,
          pid: 0,
          stdoutPath: join(dir, 'stdout.log'),
          stderrPath: join(dir, 'stderr.log'),
          startedAt: new Date().toISOString(),
          restoredFrom: context.checkpointId,
        };
        // The workload's log files grew after the dump; CRIU would refuse them ("bad size"). It is handed
        // freshly opened files instead, under the resource names it recorded (path without the leading /).
        const stdout = await open(record.stdoutPath, 'a', 0o600);
        const stderr = await open(record.stderrPath, 'a', 0o600);
        const closeFiles = async () => {
          await stdout.close().catch(() => {});
          await stderr.close().catch(() => {});
        };
        const placement = { via: [], foreignMounts: false, extraFds: [stdout.fd, stderr.fd] };
        const first = firstExtraFd(placement);
        return {
          workload: name,
          placement,
          inheritFds: [
            { fd: first, resource: original.stdoutPath.replace(/^\//, '') },
            { fd: first + 1, resource: original.stderrPath.replace(/^\//, '') },
          ],
          extraArgs: [],
          async complete(pid) {
            await closeFiles();
            try {
              record.pid = pid;
              await registry.put(record);
              return { pid, namespacePid: await namespacePid(pid), workload: name };
            } catch (err) {
              // Nobody else knows this tree yet (CRIU may have left it stopped): it goes with the failure.
              await killTree(pid);
              throw err;
            }
          },
          async fail() {
            await closeFiles();
            return undefined;
          },
        };
      });
    },

    async abandon(outcome) {
      if (outcome.pid <= 0) return;
      // The whole restored tree: the command under snapback-init would outlive it (perhaps still stopped).
      await killTree(outcome.pid);
      // A restore undone never made a workload: its record goes (unless it already names another).
      if ((await registry.get(outcome.workload))?.pid === outcome.pid)
        await registry.forget(outcome.workload);
    },
  };
}
