/**
 * The `containerd` runtime (docs/architecture.md, "Runtimes"): checkpoints the process tree under a container's init, from
 * inside the container's namespaces, and restores it into a running placeholder container of the same
 * image (see docs/architecture.md).
 *
 * The workload is the one child tree of the container's PID 1 (an init such as `tini`, or
 * `sh -c 'setsid WORKLOAD & exec sleep infinity'`), a session leader. CRIU runs through
 * `nsenter -t INIT -m -u -i -n -p`, so it shares every namespace with the tree: no namespace is recorded,
 * no mount needs `--external`, and the restored tree keeps its namespace pids inside the placeholder.
 * That needs CRIU and the checkpoint storage visible inside both containers at the paths the agent uses
 * (hostPath volumes mounted at identical paths); inspect and restore check it and say so when they are not.
 */

import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { readImagePids } from '../criu/index.js';
import { childrenOf, isRunning, namespacePid, pidsWithIoUring, processTree } from '../procfs/index.js';
import type { Inspection, RestoreContext, RestoreOutcome, Runtime, TargetRef } from '../runtime/index.js';
import type { Runner } from '../tools/index.js';
import { cgroupProcsFiles, joinCgroupsVia } from './cgroups.js';
import type { ContainerdClient } from './client.js';
import {
  assertSharedPaths,
  isSessionLeader,
  parseContainerWorkload,
  upperDirOf,
  workloadRecordOf,
} from './inspect-helpers.js';
import { classifyMounts, mountpoints, mountsOf } from './mounts.js';
import { applyRootfsDiff, captureRootfsDiff } from './rootfs.js';
import { describe, resolveRunning } from './targets.js';

export interface ContainerdRuntimeOptions {
  client: ContainerdClient;
  run: Runner;
  /** The criu binary the agent runs (checked to be reachable inside containers). */
  criuBinary: string;
  /** Checkpoint storage base (checked to be reachable inside containers at the same path). */
  storageDir: string;
  /** Absolute container paths never captured in the rootfs diff (mountpoints always are left out). */
  rootfsExclusions?: readonly string[];
}

const SIGKILL = 9;
const NSENTER_TIMEOUT_MS = 10_000;

export function createContainerdRuntime(options: ContainerdRuntimeOptions): Runtime {
  const { client, run } = options;
  const shared = [options.criuBinary, options.storageDir];
  const enter = (pid: number) => ['nsenter', '-t', String(pid), '-m', '-u', '-i', '-n', '-p', '--'];

  const killContainer = async (containerId: string, waitFor?: number) => {
    await client.kill(containerId, SIGKILL, true);
    for (let i = 0; waitFor !== undefined && i < 500 && (await isRunning(waitFor)); i++) await sleep(10);
  };

  return {
    name: 'containerd',

    async inspect(target: TargetRef): Promise<Inspection> {
      const { container, task, names } = await resolveRunning(client, target);
      const init = task.pid;
      const children = await childrenOf(init);
      if (children.length !== 1) {
        throw new SnapbackError(
          ErrorCode.FAILED_PRECONDITION,
          children.length === 0
            ? `container ${container.id} runs its workload as PID 1 (${init}); this runtime checkpoints the process tree under the container's init: start the workload under an init (tini, or sh -c 'setsid CMD & exec sleep infinity')`
            : `container ${container.id} has ${children.length} process trees under its init (pids ${children.join(', ')}); exactly one can be checkpointed`,
        );
      }
      const root = children[0]!;
      if (!(await isSessionLeader(root))) {
        throw new SnapbackError(
          ErrorCode.FAILED_PRECONDITION,
          `the workload of container ${container.id} (pid ${root}) is not a session leader; CRIU cannot dump a tree whose session leader is outside it: start it with setsid`,
        );
      }
      const pids = await processTree(root);
      const withIoUring = await pidsWithIoUring(pids);
      if (withIoUring.length > 0) {
        throw new SnapbackError(
          ErrorCode.FAILED_PRECONDITION,
          `container ${container.id} holds io_uring instances (pids ${withIoUring.join(', ')}), which CRIU cannot dump; block io_uring_setup in the pod's seccomp profile`,
        );
      }
      await assertSharedPaths(init, shared, `container ${container.id}`);
      const mounts = classifyMounts(container.spec, await mountsOf(init));
      const upperDir = await upperDirOf(client, container);
      const record = await workloadRecordOf(client, container, pids, mounts, upperDir);
      return {
        runtime: 'containerd',
        target: names,
        rootPid: root,
        pids,
        dumpPid: record.namespacePid,
        criuVia: enter(init),
        // CRIU shares the tree's mount and network namespaces: none is dumped, so nothing is external.
        externals: [],
        dumpArgs: [],
        ...(upperDir === undefined ? {} : { upperDir }),
        workload: { ...record },
        description: `container ${container.id} (${client.namespace}), workload pid ${root} (${record.namespacePid} inside)`,
      };
    },

    async stop(inspection) {
      const record = parseContainerWorkload(inspection.workload);
      await killContainer(record.containerId, inspection.rootPid);
    },

    async captureRootfs(inspection, dir, signal) {
      if (inspection.upperDir === undefined) return 0;
      const record = parseContainerWorkload(inspection.workload);
      return captureRootfsDiff({
        upperDir: inspection.upperDir,
        exclude: [...mountpoints(record.mounts), ...(options.rootfsExclusions ?? [])],
        dir,
        run,
        ...(signal === undefined ? {} : { signal }),
      });
    },

    async restore(context: RestoreContext): Promise<RestoreOutcome> {
      const setupStarted = performance.now();
      const record = parseContainerWorkload(context.workload);
      const placeholder = await resolvePlaceholder(client, context.target);
      const phId = placeholder.container.id;
      if (placeholder.container.image !== record.image) {
        throw new SnapbackError(
          ErrorCode.FAILED_PRECONDITION,
          `placeholder ${phId} runs image ${placeholder.container.image}, but checkpoint ${context.checkpointId} was taken from ${record.image}`,
        );
      }
      const init = placeholder.task.pid;
      await assertSharedPaths(init, shared, `placeholder ${phId}`);
      // The pids of the dump itself (the workload may have forked since it was inspected).
      const needed = [...new Set([...record.namespacePids, ...(await readImagePids(context.imagesDir))])];
      await assertPidsFree(init, needed, phId);
      const cgroups = await cgroupProcsFiles(init);
      const setup = performance.now() - setupStarted;
      try {
        const rootfsStarted = performance.now();
        await applyRootfsDiff({
          checkpointDir: context.checkpointDir,
          root: `/proc/${init}/root`,
          run,
          signal: context.signal,
        });
        const rootfs = performance.now() - rootfsStarted;
        const criuStarted = performance.now();
        // runc's own processes took the placeholder's first pids; CRIU (forked in that pid namespace) must
        // not take one it is about to restore. ns_last_pid is per pid namespace, written from inside it.
        const lastPid = Math.max(...needed) + 1;
        await run(
          'nsenter',
          ['-t', String(init), '-p', '--', 'sh', '-c', `echo ${lastPid} > /proc/sys/kernel/ns_last_pid`],
          {
            timeoutMs: NSENTER_TIMEOUT_MS,
            signal: context.signal,
          },
        );
        const nsPid = await context.criu.restore(
          {
            imagesDir: context.imagesDir,
            logFile: join(context.workDir, 'restore.log'),
            pidFile: join(context.workDir, 'restore.pid'),
            ...(context.lazyPages ? { lazyPages: true, workDir: context.workDir } : {}),
          },
          context.signal,
          [],
          [...joinCgroupsVia(cgroups), ...enter(init)],
        );
        const criuRestore = performance.now() - criuStarted;
        // The pid file holds the pid inside the placeholder's namespace; find the host's.
        const tree = await processTree(init);
        let pid: number | undefined;
        for (const p of tree) if (p !== init && (await namespacePid(p)) === nsPid) pid = p;
        if (pid === undefined)
          throw new SnapbackError(
            ErrorCode.INTERNAL,
            `criu restored pid ${nsPid}, but placeholder ${phId} holds no such process`,
          );
        return { pid, namespacePid: nsPid, workload: phId, durations: { setup, rootfs, criuRestore } };
      } catch (err) {
        // The placeholder's root filesystem has changed and CRIU may have left part of a tree: it is
        // killed (Kubernetes restarts it per the pod's policy), never left half-restored.
        const error = SnapbackError.from(err);
        const killed = await killContainer(phId, init).then(
          () => `placeholder ${phId} was killed`,
          (e: unknown) => `placeholder ${phId} could not be killed: ${SnapbackError.from(e).message}`,
        );
        throw new SnapbackError(error.code, `${error.message} (${killed})`, {
          cause: error,
          ...(error.phase === undefined ? {} : { phase: error.phase }),
          details: [...error.details, { field: 'placeholder', message: killed }],
        });
      }
    },

    async abandon(outcome) {
      await killContainer(outcome.workload, outcome.pid);
    },
  };
}

async function resolvePlaceholder(client: ContainerdClient, target: TargetRef | undefined) {
  if (target === undefined || (target.pod === '' && !target.containerId)) {
    throw new SnapbackError(
      ErrorCode.INVALID_ARGUMENT,
      'a containerd restore goes into a running placeholder container: name it',
      {
        details: [{ field: 'target', message: 'the placeholder (pod or container id) is required' }],
      },
    );
  }
  try {
    return await resolveRunning(client, target);
  } catch (err) {
    const error = SnapbackError.from(err);
    if (error.code !== ErrorCode.NOT_FOUND && error.code !== ErrorCode.FAILED_PRECONDITION) throw error;
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `placeholder ${describe(target)} cannot take a restore: ${error.message}`,
      { cause: error },
    );
  }
}

/** A placeholder that already runs a process with one of the checkpoint's pids cannot take it. */
async function assertPidsFree(init: number, needed: readonly number[], id: string): Promise<void> {
  const wanted = new Set(needed);
  for (const pid of await processTree(init)) {
    const ns = await namespacePid(pid);
    if (pid !== init && ns !== undefined && wanted.has(ns)) {
      throw new SnapbackError(
        ErrorCode.FAILED_PRECONDITION,
        `placeholder ${id} already runs pid ${ns} (host ${pid}), which the checkpoint needs: use a fresh placeholder`,
      );
    }
  }
}
