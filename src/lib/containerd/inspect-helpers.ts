/**
 * What inspect and restore check and record about a container: the tools and storage reachable inside
 * it, the workload being a session leader, the overlay upperdir, and the manifest's `workload` record.
 */
import { readFile, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { namespacePid } from '../procfs/index.js';
import type { ContainerdClient, ContainerInfo } from './client.js';
import type { ClassifiedMount } from './mounts.js';

/** The manifest's `workload` under this runtime: what a restore needs and checks. */
export interface ContainerWorkload {
  containerId: string;
  containerdNamespace: string;
  image: string;
  /** The dumped tree's root, as its pid namespace sees it. */
  namespacePid: number;
  /** Every pid of the tree inside its namespace: a placeholder must have them free. */
  namespacePids: number[];
  mounts: ClassifiedMount[];
  snapshotter: string;
  upperDir?: string;
}

export async function workloadRecordOf(
  client: ContainerdClient,
  container: ContainerInfo,
  pids: readonly number[],
  mounts: ClassifiedMount[],
  upperDir: string | undefined,
): Promise<ContainerWorkload> {
  const namespacePids: number[] = [];
  for (const pid of pids) {
    const ns = await namespacePid(pid);
    if (ns !== undefined) namespacePids.push(ns);
  }
  return {
    containerId: container.id,
    containerdNamespace: client.namespace,
    image: container.image,
    namespacePid: namespacePids[0] ?? pids[0]!,
    namespacePids,
    mounts,
    snapshotter: container.snapshotter,
    ...(upperDir === undefined ? {} : { upperDir }),
  };
}

export function parseContainerWorkload(workload: Record<string, unknown>): ContainerWorkload {
  const r = workload as Partial<ContainerWorkload>;
  const ok =
    typeof r.containerId === 'string' &&
    typeof r.image === 'string' &&
    typeof r.namespacePid === 'number' &&
    Array.isArray(r.namespacePids) &&
    r.namespacePids.every((p) => Number.isInteger(p) && p > 0) &&
    Array.isArray(r.mounts);
  if (!ok) {
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      'the checkpoint has no containerd workload record (taken by another runtime or version?)',
    );
  }
  return r as ContainerWorkload;
}

/** The overlay upperdir of the container's snapshot; undefined for other snapshotters. */
export async function upperDirOf(
  client: ContainerdClient,
  container: ContainerInfo,
): Promise<string | undefined> {
  if (container.snapshotKey === '') return undefined;
  const mounts = await client.snapshotMounts(container.snapshotter, container.snapshotKey);
  const overlay = mounts.find((m) => m.type === 'overlay');
  const option = overlay?.options.find((o) => o.startsWith('upperdir='));
  return option?.slice('upperdir='.length);
}

/** stat(2)'s session id of `pid` equals the pid: it leads its session. */
export async function isSessionLeader(pid: number): Promise<boolean> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // after the command: state ppid pgrp session …
  return Number(fields[3]) === pid;
}

/**
 * Each of `paths` must be the same file inside the container (`/proc/INIT/root/PATH`) as here: CRIU runs
 * in the container's mount namespace and reads and writes the checkpoint there.
 */
export async function assertSharedPaths(init: number, paths: readonly string[], what: string): Promise<void> {
  for (const path of paths) {
    const absolute = await onPath(path);
    const here = await stat(absolute).catch(() => undefined);
    const there = await stat(join(`/proc/${init}/root`, absolute)).catch(() => undefined);
    if (here === undefined || there === undefined || here.dev !== there.dev || here.ino !== there.ino) {
      throw new SnapbackError(
        ErrorCode.FAILED_PRECONDITION,
        `${absolute} is not visible inside ${what} at the same path; mount it there (a hostPath volume at an identical path) so CRIU can run inside the container`,
      );
    }
  }
}

async function onPath(file: string): Promise<string> {
  if (isAbsolute(file)) return file;
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const candidate = join(dir, file);
    if (
      await stat(candidate).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      return candidate;
  }
  return file;
}
