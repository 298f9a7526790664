/**
 * CRIU's command-line options, built from validated settings. Each setting follows CRIU's own
 * documentation (criu(8), https://criu.org/CLI); nothing here reads the environment.
 */

export interface CriuSettings {
  /** Keep the tree running after a dump (snapback's default: a checkpoint must not stop the workload). */
  leaveRunning: boolean;
  /** Dump established TCP connections (criu --tcp-established); without it criu refuses to dump them. */
  tcpEstablished: boolean;
  /** Dump and restore file locks (--file-locks). */
  fileLocks: boolean;
  /** Re-link open-but-unlinked files (--link-remap) instead of failing on them. */
  linkRemap: boolean;
  /** Largest deleted-but-open file copied into the image (--ghost-limit), in bytes. */
  ghostLimitBytes: number;
  /** Allow a tree attached to a terminal / session outside it (--shell-job). */
  shellJob: boolean;
  /** Allow external unix sockets (--ext-unix-sk). */
  extUnixSockets: boolean;
  /** criu -v level: 0 (errors) … 4 (debug). */
  logLevel: number;
  /** How cgroups are handled (--manage-cgroups). */
  manageCgroups: 'ignore' | 'soft' | 'full' | 'strict' | 'none';
  /** Network lock method (--network-lock), needed when iptables-restore is missing. */
  networkLock: 'iptables' | 'nftables' | 'skip' | undefined;
  /** Upper bound for one criu run. */
  timeoutMs: number;
}

export const defaultCriuSettings: CriuSettings = {
  leaveRunning: true,
  tcpEstablished: true,
  fileLocks: true,
  linkRemap: true,
  ghostLimitBytes: 16 * 1024 * 1024,
  shellJob: false,
  extUnixSockets: true,
  logLevel: 4,
  manageCgroups: 'ignore',
  networkLock: undefined,
  timeoutMs: 10 * 60_000,
};

export interface DumpOptions {
  pid: number;
  imagesDir: string;
  logFile: string;
  leaveRunning: boolean;
  /** `--external` descriptors (mounts, namespaces) decided by the runtime. */
  externals?: readonly string[];
  /** Anything the runtime must add (e.g. `--root`). */
  extraArgs?: readonly string[];
  /**
   * CRIU's action script (--action-script): run at each step with CRTOOLS_SCRIPT_ACTION set; at
   * `post-dump` the tree is dumped and still frozen.
   */
  actionScript?: string;
  /** Environment for CRIU (and so for its action script), over the agent's own. */
  env?: Record<string, string>;
}

export interface RestoreOptions {
  imagesDir: string;
  logFile: string;
  pidFile: string;
  /** `--inherit-fd fd[N]:RESOURCE` pairs: the restored process gets fd N of criu for RESOURCE. */
  inheritFds?: readonly { fd: number; resource: string }[];
  /** criu's work dir (-W): where it finds the lazy-pages daemon's socket. */
  workDir?: string;
  /** Resume at once; pages come from a `criu lazy-pages` daemon running on the same work dir. */
  lazyPages?: boolean;
  /** Leave every restored task stopped (SIGSTOP) instead of resuming it: the caller sends SIGCONT. */
  leaveStopped?: boolean;
  extraArgs?: readonly string[];
}

/** The common flags of every dump and restore, in CRIU's spelling. */
function commonArgs(s: CriuSettings): string[] {
  const args = [`-v${s.logLevel}`, `--manage-cgroups=${s.manageCgroups}`];
  if (s.tcpEstablished) args.push('--tcp-established');
  if (s.fileLocks) args.push('--file-locks');
  if (s.shellJob) args.push('--shell-job');
  if (s.extUnixSockets) args.push('--ext-unix-sk');
  if (s.networkLock !== undefined) args.push(`--network-lock=${s.networkLock}`);
  return args;
}

export function dumpArgs(s: CriuSettings, o: DumpOptions): string[] {
  const args = ['dump', '-t', String(o.pid), '-D', o.imagesDir, '-o', o.logFile, ...commonArgs(s)];
  if (o.leaveRunning) args.push('--leave-running');
  if (s.linkRemap) args.push('--link-remap');
  args.push('--ghost-limit', String(s.ghostLimitBytes));
  for (const external of o.externals ?? []) args.push('--external', external);
  if (o.actionScript !== undefined) args.push('--action-script', o.actionScript);
  args.push(...(o.extraArgs ?? []));
  return args;
}

/** `path` maps each of the agent's paths to how CRIU reaches it (see placement.ts). */
export function restoreArgs(
  s: CriuSettings,
  o: RestoreOptions,
  path: (p: string) => string = (p) => p,
): string[] {
  const args = [
    'restore',
    '-D',
    path(o.imagesDir),
    '-o',
    path(o.logFile),
    '-d',
    '--pidfile',
    path(o.pidFile),
    ...commonArgs(s),
  ];
  for (const { fd, resource } of o.inheritFds ?? []) args.push('--inherit-fd', `fd[${fd}]:${resource}`);
  if (o.workDir !== undefined) args.push('-W', path(o.workDir));
  if (o.lazyPages) args.push('--lazy-pages');
  if (o.leaveStopped) args.push('--leave-stopped');
  args.push(...(o.extraArgs ?? []));
  return args;
}

/**
 * `criu lazy-pages`: serves a lazy restore on the same work dir the pages of `imagesDir`, which it asks of
 * the page server connected to its fd `pageServerFd` (it reads only the images' maps itself).
 */
export function lazyPagesArgs(
  s: CriuSettings,
  imagesDir: string,
  workDir: string,
  logFile: string,
  pageServerFd: number,
): string[] {
  return [
    'lazy-pages',
    '-D',
    imagesDir,
    '-W',
    workDir,
    '-o',
    logFile,
    `-v${s.logLevel}`,
    '--page-server',
    '--ps-socket',
    String(pageServerFd),
  ];
}
