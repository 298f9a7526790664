/** The machine the figures were measured on: they mean little without it. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  os: string;
  node: string;
  criu: string;
  /** The filesystem the checkpoints (and the dd baseline) were written to. */
  filesystem: string;
}

function run(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export function describeMachine(storage: string): Machine {
  const osRelease = readFileSync('/etc/os-release', 'utf8');
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    os: /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? 'unknown',
    node: process.version,
    criu: /Version:\s*(\S+)/.exec(run('criu', ['--version']))?.[1] ?? 'unknown',
    filesystem: run('findmnt', ['-n', '-o', 'FSTYPE,SOURCE', '-T', storage]).replace(/\s+/g, ' '),
  };
}
