/**
 * What inspect records about a container and restore checks: the manifest's `workload` record, the
 * overlay layers, which process is the workload's root, and the io_uring refusal.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { childrenOf } from '../procfs/index.js';
import type { ContainerdClient, ContainerInfo } from './client.js';
import { type SnapbackInit, snapbackInitOf } from './init-protocol.js';
import type { ClassifiedMount } from './mounts.js';
import type { CapturedVolume } from './volumes.js';

/** The manifest's `workload` under this runtime (version 2: the whole container, dumped from the host). */
export interface ContainerWorkload {
  format: 2;
  containerId: string;
  containerdNamespace: string;
  image: string;
  /** `process.arch` of the node it was taken on: a restore elsewhere must match. */
  arch: string;
  /** Every mount of the dumped tree: all but `/` are external to CRIU and come from the placeholder. */
  mounts: ClassifiedMount[];
  /** Volumes whose contents travel in the checkpoint. */
  volumes: CapturedVolume[];
  snapshotter: string;
}

export function parseContainerWorkload(workload: Record<string, unknown>): ContainerWorkload {
  const r = workload as Partial<ContainerWorkload>;
  const safePath = (p: unknown) => typeof p === 'string' && isAbsolute(p) && !p.split('/').includes('..');
  const ok =
    r.format === 2 &&
    typeof r.containerId === 'string' &&
    typeof r.image === 'string' &&
    typeof r.arch === 'string' &&
    Array.isArray(r.mounts) &&
    r.mounts.every((m) => safePath(m?.destination)) &&
    Array.isArray(r.volumes) &&
    r.volumes.every(
      (v) => safePath(v?.mountpoint) && typeof v.archive === 'string' && !v.archive.includes('..'),
    );
  if (!ok) {
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      'the checkpoint holds no containerd workload record this agent can restore (taken by another runtime, or by an earlier snapback: take a new checkpoint)',
    );
  }
  return r as ContainerWorkload;
}

/** The overlay layers of the container's snapshot; undefined for other snapshotters. */
export async function overlayOf(
  client: ContainerdClient,
  container: ContainerInfo,
): Promise<{ upperDir: string; lowerDirs: string[] } | undefined> {
  if (container.snapshotKey === '') return undefined;
  const mounts = await client.snapshotMounts(container.snapshotter, container.snapshotKey);
  const overlay = mounts.find((m) => m.type === 'overlay');
  const option = (name: string) =>
    overlay?.options.find((o) => o.startsWith(`${name}=`))?.slice(name.length + 1);
  const upperDir = option('upperdir');
  if (upperDir === undefined) return undefined;
  return { upperDir, lowerDirs: (option('lowerdir') ?? '').split(':').filter(Boolean) };
}

/**
 * The root of what to checkpoint in a container whose PID 1 is `init`: PID 1 itself, or — when PID 1 is
 * snapback's init holding a restored workload — that workload (PID 1 of its own nested pid namespace).
 */
export async function workloadRootOf(
  init: number,
  containerId: string,
): Promise<{ root: number; snapbackInit: SnapbackInit | undefined }> {
  const snapbackInit = await snapbackInitOf(init);
  // No init, or one that became the container's command (started cold): PID 1 is the workload.
  if (snapbackInit === undefined || !snapbackInit.live) return { root: init, snapbackInit };
  const state = await snapbackInit.state();
  if (state.kind !== 'restored') {
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `container ${containerId} is a placeholder whose snapback-init is ${state.kind === 'waiting' ? 'still waiting for a restore' : `in state "${state.kind}"`}: there is no workload to checkpoint yet`,
    );
  }
  const root = await childAtNamespacePid(init, state.pid);
  if (root === undefined) {
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `container ${containerId}: snapback-init says it holds restored pid ${state.pid}, which is gone`,
    );
  }
  return { root, snapbackInit };
}

/** The host pid of the child of `parent` that is `pid` in `parent`'s own pid namespace. */
export async function childAtNamespacePid(parent: number, pid: number): Promise<number | undefined> {
  const level = (await nsPids(parent)).length - 1;
  for (const child of await childrenOf(parent)) {
    if ((await nsPids(child))[level] === pid) return child;
  }
  return undefined;
}

/** NSpid of /proc/PID/status: the pid in each pid namespace, outermost first. */
async function nsPids(pid: number): Promise<number[]> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const line = status.split('\n').find((l) => l.startsWith('NSpid:'));
  return line === undefined ? [] : line.slice(6).trim().split(/\s+/).map(Number);
}
