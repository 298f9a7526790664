/**
 * Which `cgroup.procs` files put a process into another process's cgroups (v1 hierarchies and v2), as
 * seen through this host's cgroup mounts. A restore into a placeholder joins the placeholder's cgroups
 * first, so the restored tree is accounted and limited as the pod is (criu runs with cgroups ignored).
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMountinfo } from './mounts.js';

interface CgroupMount {
  /** v1 controllers (e.g. `cpu,cpuacct`, `name=systemd`); empty for the v2 hierarchy. */
  controllers: string[];
  root: string;
  mountPoint: string;
}

export async function cgroupProcsFiles(pid: number): Promise<string[]> {
  const mounts = await cgroupMounts();
  const lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n').filter(Boolean);
  const files: string[] = [];
  for (const line of lines) {
    const [, , list = '', path = '/'] = /^(\d+):([^:]*):(.*)$/.exec(line) ?? [];
    const wanted = list === '' ? [] : list.split(',');
    const mount = mounts.find((m) =>
      wanted.length === 0 ? m.controllers.length === 0 : wanted.every((c) => m.controllers.includes(c)),
    );
    if (mount === undefined || !(path === mount.root || path.startsWith(`${mount.root.replace(/\/$/, '')}/`)))
      continue;
    const file = join(mount.mountPoint, path.slice(mount.root.length), 'cgroup.procs');
    if (
      await access(file).then(
        () => true,
        () => false,
      )
    )
      files.push(file);
  }
  return [...new Set(files)];
}

async function cgroupMounts(): Promise<CgroupMount[]> {
  const out: CgroupMount[] = [];
  for (const m of parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'))) {
    if (m.fsType === 'cgroup2') out.push({ controllers: [], root: m.root, mountPoint: m.mountPoint });
    if (m.fsType === 'cgroup') {
      const controllers = m.superOptions.filter(
        (o) => o !== 'rw' && o !== 'ro' && !o.startsWith('release_agent'),
      );
      out.push({ controllers, root: m.root, mountPoint: m.mountPoint });
    }
  }
  return out;
}

/**
 * A command prefix that moves itself into `files` (one `cgroup.procs` each) and then runs the rest of
 * the command line: `sh -c '…' snapback-join-cgroups FILE… -- COMMAND…`.
 */
export function joinCgroupsVia(files: readonly string[]): string[] {
  if (files.length === 0) return [];
  const script = 'while [ "$1" != -- ]; do echo $$ >"$1" || exit 97; shift; done; shift; exec "$@"';
  return ['sh', '-c', script, 'snapback-join-cgroups', ...files, '--'];
}
