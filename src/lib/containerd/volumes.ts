/**
 * Pod volumes whose contents belong to the workload and travel with its checkpoint: emptyDir volumes (the
 * kubelet's `…/volumes/kubernetes.io~empty-dir/NAME` folders) and the container's /dev/shm. Every other
 * volume (configMap, secret, projected token, hostPath, /etc/hosts, resolv.conf…) is the pod's, and the
 * restored workload sees its placeholder's own. Contents are archived from the container's view while the
 * tree is frozen, and extracted into the placeholder's same mountpoint before CRIU restores the tree.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode } from '../../errors.js';
import type { Runner } from '../tools/index.js';
import type { ClassifiedMount } from './mounts.js';

export const VOLUMES_DIR = 'volumes';
const TAR_TIMEOUT_MS = 10 * 60_000;
const EMPTY_DIR = /\/volumes\/kubernetes\.io~empty-dir\/[^/]+\/?$/;

export interface CapturedVolume {
  mountpoint: string;
  kind: 'emptyDir' | 'shm';
  /** Relative to the checkpoint folder. */
  archive: string;
}

/** Which of a container's mounts carry workload data, but for the excluded paths. */
export function volumesToCapture(
  mounts: readonly ClassifiedMount[],
  excluded: (path: string) => boolean,
): Omit<CapturedVolume, 'archive'>[] {
  const out: Omit<CapturedVolume, 'archive'>[] = [];
  for (const m of mounts) {
    if (excluded(m.destination)) continue;
    if (m.destination === '/dev/shm') out.push({ mountpoint: m.destination, kind: 'shm' });
    else if (EMPTY_DIR.test(m.source)) out.push({ mountpoint: m.destination, kind: 'emptyDir' });
  }
  return out;
}

/** Archives each volume's contents, seen from `root` (/proc/PID/root), into `dir`/volumes/. */
export async function captureVolumes(
  volumes: readonly Omit<CapturedVolume, 'archive'>[],
  root: string,
  dir: string,
  run: Runner,
  signal?: AbortSignal,
): Promise<CapturedVolume[]> {
  if (volumes.length === 0) return [];
  await mkdir(join(dir, VOLUMES_DIR), { mode: 0o700 });
  const out: CapturedVolume[] = [];
  for (const [i, volume] of volumes.entries()) {
    const archive = `${VOLUMES_DIR}/${i}.tar`;
    await tar(
      run,
      ['--create', '--file', join(dir, archive), '--directory', join(root, volume.mountpoint), '.'],
      signal,
    );
    out.push({ ...volume, archive });
  }
  return out;
}

/** Extracts each volume's archive into the same mountpoint under `root` (the placeholder's). */
export async function applyVolumes(
  volumes: readonly CapturedVolume[],
  checkpointDir: string,
  root: string,
  run: Runner,
  signal?: AbortSignal,
): Promise<void> {
  for (const volume of volumes) {
    await tar(
      run,
      [
        '--extract',
        '--file',
        join(checkpointDir, volume.archive),
        '--directory',
        join(root, volume.mountpoint),
        '--same-owner',
        '--preserve-permissions',
      ],
      signal,
    );
  }
}

async function tar(run: Runner, args: string[], signal: AbortSignal | undefined): Promise<void> {
  await run('tar', ['--numeric-owner', '--xattrs', ...args], {
    timeoutMs: TAR_TIMEOUT_MS,
    failureCode: ErrorCode.INTERNAL,
    ...(signal === undefined ? {} : { signal }),
  });
}
