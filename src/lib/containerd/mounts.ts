/**
 * A container's mounts, from its OCI spec and from the kernel's view (/proc/PID/mountinfo), classified
 * for checkpointing: the root filesystem, kernel filesystems (/proc, /sys, /dev and below), volumes and
 * bind mounts (external: never in the rootfs diff, provided again by the placeholder's own spec).
 */
import { readFile } from 'node:fs/promises';
import type { OciSpec } from './client.js';

export interface MountinfoEntry {
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
  superOptions: string[];
}

export type MountKind = 'rootfs' | 'kernel' | 'tmpfs' | 'external';

export interface ClassifiedMount {
  destination: string;
  kind: MountKind;
  type: string;
  source: string;
}

const KERNEL_TYPES = new Set([
  'proc',
  'sysfs',
  'devpts',
  'mqueue',
  'cgroup',
  'cgroup2',
  'securityfs',
  'debugfs',
  'tracefs',
]);
const KERNEL_TREES = ['/proc', '/sys', '/dev'];

/** mountinfo(5); octal escapes (`\040` for a space) decoded. */
export function parseMountinfo(text: string): MountinfoEntry[] {
  const decode = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
  const out: MountinfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const [left = '', right = ''] = line.split(' - ');
    const f = left.split(' ');
    const r = right.split(' ');
    out.push({
      root: decode(f[3] ?? '/'),
      mountPoint: decode(f[4] ?? '/'),
      fsType: r[0] ?? '',
      source: decode(r[1] ?? ''),
      superOptions: (r[2] ?? '').split(','),
    });
  }
  return out;
}

export async function mountsOf(pid: number): Promise<MountinfoEntry[]> {
  return parseMountinfo(await readFile(`/proc/${pid}/mountinfo`, 'utf8'));
}

function isUnder(path: string, tree: string): boolean {
  return path === tree || path.startsWith(`${tree}/`);
}

/** Every mount of the container, by the kernel's view, with what the OCI spec says of it. */
export function classifyMounts(spec: OciSpec, mountinfo: readonly MountinfoEntry[]): ClassifiedMount[] {
  const declared = new Map((spec.mounts ?? []).map((m) => [m.destination, m]));
  return mountinfo.map((m) => {
    const fromSpec = declared.get(m.mountPoint);
    const type = fromSpec?.type ?? m.fsType;
    let kind: MountKind;
    if (m.mountPoint === '/') kind = 'rootfs';
    else if (KERNEL_TYPES.has(m.fsType) || KERNEL_TREES.some((t) => isUnder(m.mountPoint, t)))
      kind = 'kernel';
    else if (m.fsType === 'tmpfs' && (fromSpec === undefined || fromSpec.type === 'tmpfs')) kind = 'tmpfs';
    else kind = 'external';
    return { destination: m.mountPoint, kind, type, source: fromSpec?.source ?? m.source };
  });
}

/** Paths the rootfs diff leaves out: every mountpoint but `/` (their contents are not the rootfs). */
export function mountpoints(mounts: readonly ClassifiedMount[]): string[] {
  return mounts.filter((m) => m.kind !== 'rootfs').map((m) => m.destination);
}
