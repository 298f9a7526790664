/**
 * The `containerd` runtime (docs/architecture.md, "Runtimes"): any container as it runs. The whole
 * process tree of a container — its PID 1 included — is dumped by CRIU running on the node, not in the
 * container: the container's mounts and network namespace are external to the dump, its pid namespace is
 * dumped whole, and CRIU enters its UTS and IPC namespaces so that those are the pod's, not the image's.
 * Nothing of snapback needs to be in the workload's image or pod spec.
 *
 * A restore goes into a running placeholder container of the same image. CRIU runs inside the
 * placeholder's namespaces, reached with nothing in its image (see src/lib/criu/placement.ts), and brings
 * the tree back as PID 1 of a pid namespace nested in the placeholder's, with its checkpointed pids; the
 * placeholder's PID 1 — snapback-init, ideally — becomes its parent. The container's filesystem changes
 * and its emptyDir and /dev/shm contents are captured while the tree is frozen and applied before CRIU
 * runs; every other mount is the placeholder's own.
 */
import { open, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { type CriuPlacement, firstExtraFd } from '../criu/index.js';
import { isRunning, pidsWithIoUring, processTree } from '../procfs/index.js';
import type {
  Inspection,
  Phases,
  PreparedRestore,
  RestoreContext,
  Runtime,
  TargetRef,
} from '../runtime/index.js';
import type { Runner } from '../tools/index.js';
import { cgroupProcsFiles, joinCgroupsVia } from './cgroups.js';
import type { ContainerdClient } from './client.js';
import { snapbackInitOf } from './init-protocol.js';
import {
  type ContainerWorkload,
  childAtNamespacePid,
  overlayOf,
  parseContainerWorkload,
  workloadRootOf,
} from './inspect-helpers.js';
import { classifyMounts, mountpoints, mountsOf } from './mounts.js';
import { checkPlaceholder, resolvePlaceholder } from './placeholder.js';
import { applyRootfsDiff, captureRootfsDiff } from './rootfs.js';
import { resolveRunning } from './targets.js';
import { applyVolumes, captureVolumes, volumesToCapture } from './volumes.js';

export interface ContainerdRuntimeOptions {
  client: ContainerdClient;
  run: Runner;
  /**
   * Where this node's root filesystem is seen from the agent: `/` on the node itself; in a DaemonSet with
   * hostPID, `/proc/1/root`. containerd names the overlay layers by their paths on the node.
   */
  hostRoot?: string;
  /** Absolute container paths never captured (neither in the rootfs diff nor as volume contents). */
  rootfsExclusions?: readonly string[];
}

const SIGKILL = 9;
/** The name the network namespace of a dump is known by, in CRIU's --external / --inherit-fd. */
const NET_NS_KEY = 'extNetNs';

/** `nsenter` into `pid`'s namespaces (the letters are nsenter's flags: -m -u -i -n -p). */
const enter = (pid: number, namespaces: readonly string[]) => [
  'nsenter',
  '-t',
  String(pid),
  ...namespaces.map((n) => `-${n}`),
  '--',
];

export function createContainerdRuntime(options: ContainerdRuntimeOptions): Runtime {
  const { client, run } = options;
  const hostPath = (path: string) => join(options.hostRoot ?? '/', path);
  const exclusions = options.rootfsExclusions ?? [];
  const excluded = (path: string) =>
    exclusions.some((e) => path === e || path.startsWith(`${e.replace(/\/$/, '')}/`));

  const killContainer = async (containerId: string, waitFor?: number) => {
    await client.kill(containerId, SIGKILL, true);
    for (let i = 0; waitFor !== undefined && i < 500 && (await isRunning(waitFor)); i++) await sleep(10);
  };

  return {
    name: 'containerd',

    async inspect(target: TargetRef): Promise<Inspection> {
      const { container, task, names } = await resolveRunning(client, target);
      const { root } = await workloadRootOf(task.pid, container.id);
      const pids = await processTree(root);
      const withIoUring = await pidsWithIoUring(pids);
      if (withIoUring.length > 0) {
        throw new SnapbackError(
          ErrorCode.FAILED_PRECONDITION,
          `container ${container.id} holds io_uring instances (pids ${withIoUring.join(', ')}), which CRIU cannot dump; block io_uring_setup in the pod's seccomp profile (knative/seccomp/no-io-uring.json)`,
        );
      }
      const mounts = classifyMounts(container.spec, await mountsOf(root));
      const workload: ContainerWorkload = {
        format: 2,
        containerId: container.id,
        containerdNamespace: client.namespace,
        image: container.image,
        arch: process.arch,
        mounts,
        volumes: [],
        snapshotter: container.snapshotter,
      };
      const netNs = (await readlink(`/proc/${root}/ns/net`)).replace(/\D/g, '');
      return {
        runtime: 'containerd',
        target: names,
        rootPid: root,
        pids,
        // On the node, in the container's UTS and IPC namespaces (so that those are inherited on restore,
        // from the placeholder, rather than dumped and restored with the old pod's hostname).
        placement: { via: enter(root, ['u', 'i']), foreignMounts: false },
        externals: [`net[${netNs}]:${NET_NS_KEY}`, ...mountpoints(mounts).map((m) => `mnt[${m}]:${m}`)],
        dumpArgs: [],
        workload: { ...workload },
        identity: {
          owner: { kind: 'Pod', name: names.pod },
          container: names.container ?? '',
          image: container.image,
        },
        description: `container ${container.id} (${client.namespace}), workload pid ${root}`,
      };
    },

    async stop(inspection) {
      await killContainer(parseContainerWorkload(inspection.workload).containerId, inspection.rootPid);
    },

    async captureFrozen(inspection, dir, phases, signal) {
      const workload = inspection.workload as unknown as ContainerWorkload;
      const root = `/proc/${inspection.rootPid}/root`;
      const layers = await overlayOf(client, await client.getContainer(workload.containerId));
      if (layers !== undefined) {
        await phases.run('rootfs', () =>
          captureRootfsDiff({
            upperDir: hostPath(layers.upperDir),
            lowerDirs: layers.lowerDirs.map(hostPath),
            mergedRoot: root,
            exclude: [...mountpoints(workload.mounts), ...exclusions],
            dir,
            run,
            ...(signal === undefined ? {} : { signal }),
          }),
        );
      }
      const volumes = volumesToCapture(workload.mounts, excluded);
      if (volumes.length > 0) {
        // Recorded in the inspection's workload, which becomes the manifest's.
        workload.volumes = await phases.run('volumes', () => captureVolumes(volumes, root, dir, run, signal));
      }
    },

    async prepareRestore(context: RestoreContext, phases: Phases): Promise<PreparedRestore> {
      const workload = parseContainerWorkload(context.workload);
      const { placeholder, init, snapbackInit, cgroups } = await phases.run('setup', async () => {
        const found = await resolvePlaceholder(client, context.target);
        const init = found.task.pid;
        // Everything is checked before anything is touched: a refused placeholder stays as it was.
        const snapbackInit = await checkPlaceholder(found, init, workload, context.checkpointId);
        return { placeholder: found, init, snapbackInit, cgroups: await cgroupProcsFiles(init) };
      });
      const phId = placeholder.container.id;
      const netNs = await open(`/proc/${init}/ns/net`, 'r');
      const undo = async (error: Error) => {
        await netNs.close().catch(() => {});
        // Its files have changed, and CRIU may have left part of a tree: the placeholder is killed (the
        // pod restarts it), never left half-restored; its init is told to start cold next time.
        await snapbackInit?.decide({ cold: `restore failed: ${error.message}` }).catch(() => {});
        return killContainer(phId, init).then(
          () => `placeholder ${phId} was killed`,
          (e: unknown) => `placeholder ${phId} could not be killed: ${SnapbackError.from(e).message}`,
        );
      };
      try {
        await snapbackInit?.decide('restoring');
        const root = `/proc/${init}/root`;
        await phases.run('rootfs', () =>
          applyRootfsDiff({ checkpointDir: context.checkpointDir, root, run, signal: context.signal }),
        );
        if (workload.volumes.length > 0) {
          await phases.run('volumes', () =>
            applyVolumes(workload.volumes, context.checkpointDir, root, run, context.signal),
          );
        }
      } catch (err) {
        const undone = await undo(SnapbackError.from(err));
        throw new SnapbackError(
          SnapbackError.from(err).code,
          `${SnapbackError.from(err).message} (${undone})`,
          {
            cause: err,
            phase: SnapbackError.from(err).phase ?? 'rootfs',
          },
        );
      }
      const placement: CriuPlacement = {
        // Joins the placeholder's cgroups first (CRIU leaves cgroups alone), then its namespaces.
        via: [...joinCgroupsVia(cgroups), ...enter(init, ['m', 'u', 'i', 'n', 'p'])],
        foreignMounts: true,
        extraFds: [netNs.fd],
      };
      return {
        placement,
        inheritFds: [{ fd: firstExtraFd(placement), resource: NET_NS_KEY }],
        extraArgs: [
          '--root',
          '/',
          ...mountpoints(workload.mounts).flatMap((m) => ['--ext-mount-map', `${m}:${m}`]),
          // The pod's address changed: connections of the old one cannot come back, listeners do.
          '--tcp-close',
        ],
        async complete(criuPid) {
          await netNs.close();
          // CRIU ran in the placeholder's pid namespace: its pid is the restored root's there.
          const pid = await childAtNamespacePid(init, criuPid);
          if (pid === undefined) {
            throw new SnapbackError(
              ErrorCode.INTERNAL,
              `criu restored pid ${criuPid}, but placeholder ${phId} holds no such process`,
            );
          }
          await snapbackInit?.decide({ restored: criuPid });
          return { pid, namespacePid: criuPid, workload: phId };
        },
        fail: undo,
      };
    },

    async abandon(outcome) {
      await killContainer(outcome.workload, outcome.pid);
    },

    async startCold(target, reason) {
      const placeholder = await resolvePlaceholder(client, target);
      const snapbackInit = await snapbackInitOf(
        placeholder.task.pid,
        placeholder.container.spec.process?.args,
      );
      const state = await snapbackInit?.state();
      if (snapbackInit === undefined || !snapbackInit.live || state?.kind !== 'waiting') {
        throw new SnapbackError(
          ErrorCode.FAILED_PRECONDITION,
          snapbackInit === undefined
            ? `placeholder ${placeholder.container.id} runs no snapback-init: there is nobody to tell to start cold`
            : `placeholder ${placeholder.container.id}'s snapback-init is not waiting (${state?.kind ?? 'gone'})`,
        );
      }
      await snapbackInit.decide({ cold: reason });
    },
  };
}
