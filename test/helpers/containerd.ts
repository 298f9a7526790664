/**
 * A private containerd 1.7 (+ runc) for tests: its own socket, root and state in a temp dir, a unique
 * namespace, and a tiny image built here from the static busybox `make setup` installs (a docker-archive
 * tarball loaded with `ctr images import`). `stop()` removes every container, the daemon, its shims and
 * mounts, the temp dir and what containerd put in /run/containerd (all of it when that did not exist before).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import {
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './proc.js';

const execFileAsync = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;
export const containerdBin = join(root, '.tools/containerd/bin');
/**
 * CRIU's folder by its real path: its loader is patched to the path it was installed at (scripts/setup-criu.sh),
 * so inside a container it must be bound there, whatever symlink leads to it here.
 */
export const criuDir = existsSync(join(root, '.tools/criu'))
  ? realpathSync(join(root, '.tools/criu'))
  : join(root, '.tools/criu');
export const IMAGE = 'snapback.test/busybox:1';
export const OTHER_IMAGE = 'snapback.test/busybox:other';
/** Debian's python3 (this machine's) with its libraries and the static busybox: a server image. */
export const PYTHON_IMAGE = 'snapback.test/python:1';
const RUN_DIR = '/run/containerd';

/** The flags of `snapback agent` for the containerd runtime on `ctd`, with this machine's CRIU. */
export function containerdAgentArgs(ctd: { socket: string; namespace: string }): string[] {
  return [
    '--runtime',
    'containerd',
    '--containerd-socket',
    ctd.socket,
    '--containerd-namespace',
    ctd.namespace,
    '--criu',
    join(criuDir, 'bin/criu'),
    '--no-cuda',
  ];
}

/** Why the real-containerd tests cannot run here, or undefined when they can. */
export function containerdMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const tool of ['containerd', 'ctr', 'runc', 'containerd-shim-runc-v2', 'busybox']) {
    if (!existsSync(join(containerdBin, tool)))
      return `${tool} missing: run make setup (scripts/setup-containerd.sh)`;
  }
  if (!existsSync(join(criuDir, 'bin/criu'))) return 'criu missing: run make setup';
  return undefined;
}

export interface Containerd {
  dir: string;
  socket: string;
  namespace: string;
  /** `ctr -a SOCK -n NS ARGS…`; resolves with stdout. */
  ctr(...args: string[]): Promise<string>;
  /**
   * `ctr run -d` with bind mounts at identical paths; resolves with the task's host pid. The container
   * carries the opt-in label `snapback.io/enabled=true` (a container outside any pod opts in itself)
   * unless `labels` are given, which replace it.
   */
  run(
    id: string,
    command: string[],
    options?: {
      image?: string;
      binds?: string[];
      /** Bind mounts at other paths, e.g. a pod's emptyDir folder at the container's mountpoint. */
      mounts?: { source: string; destination: string }[];
      labels?: Record<string, string>;
    },
  ): Promise<number>;
  /** Waits for the task to stop and removes it; resolves with its exit code. */
  exitCode(id: string, timeoutMs?: number): Promise<number>;
  taskPid(id: string): Promise<number | undefined>;
  remove(id: string): Promise<void>;
  /** SIGKILL to the daemon only (its containers keep running), to test "containerd down". */
  killDaemon(): Promise<void>;
  /** Starts the daemon again on the same root and state (it reconnects to the running shims). */
  startDaemon(): Promise<void>;
  stop(): Promise<void>;
}

export async function startContainerd(): Promise<Containerd> {
  const runExisted = existsSync(RUN_DIR);
  const runBefore = runExisted ? await listRun() : new Set<string>();
  const dir = await mkdtemp(join(tmpdir(), 'snapback-ctd-'));
  const socket = join(dir, 'containerd.sock');
  const namespace = `snapback-test-${process.pid}`;
  await writeFile(
    join(dir, 'config.toml'),
    [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${socket}.ttrpc"`,
      '',
    ].join('\n'),
  );
  const env = { ...process.env, PATH: `${containerdBin}:${process.env['PATH'] ?? ''}` };
  let daemon: ChildProcess | undefined;
  const ctr = async (...args: string[]) =>
    (
      await execFileAsync(join(containerdBin, 'ctr'), ['-a', socket, '-n', namespace, ...args], {
        env,
        timeout: 60_000,
      })
    ).stdout;
  const ids = new Set<string>();
  const taskPid = async (id: string) => {
    const line = (await ctr('task', 'ls')).split('\n').find((l) => l.split(/\s+/)[0] === id);
    const pid = Number(line?.split(/\s+/)[1]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  };
  const remove = async (id: string) => {
    await ctr('task', 'kill', '-a', '-s', 'SIGKILL', id).catch(() => {});
    await waitFor(
      `task ${id} to stop`,
      async () =>
        !(await ctr('task', 'ls')).includes(`${id} `) ||
        (await ctr('task', 'rm', '-f', id).then(
          () => true,
          () => false,
        )),
      10_000,
    ).catch(() => {});
    await ctr('containers', 'rm', id).catch(() => {});
    ids.delete(id);
  };
  const killDaemon = async () => {
    if (daemon === undefined) return;
    const exited = new Promise((resolve) => daemon?.once('exit', resolve));
    daemon.kill('SIGKILL');
    await exited;
    daemon = undefined;
  };
  const startDaemon = async () => {
    daemon = spawn(join(containerdBin, 'containerd'), ['--config', join(dir, 'config.toml')], {
      env,
      stdio: 'ignore',
      detached: true,
    });
    await waitFor(
      'containerd to answer',
      () =>
        ctr('version').then(
          () => true,
          () => false,
        ),
      10_000,
    );
  };
  try {
    await startDaemon();
    await importImages(dir, ctr);
  } catch (err) {
    await killDaemon();
    throw err;
  }
  return {
    dir,
    socket,
    namespace,
    ctr,
    async run(id, command, options = {}) {
      const mounts = [
        ...(options.binds ?? []).map((p) => ({ source: p, destination: p })),
        ...(options.mounts ?? []),
      ].flatMap((m) => ['--mount', `type=bind,src=${m.source},dst=${m.destination},options=rbind:rw`]);
      const labels = Object.entries(options.labels ?? { 'snapback.io/enabled': 'true' }).flatMap(([k, v]) => [
        '--label',
        `${k}=${v}`,
      ]);
      ids.add(id);
      await ctr('run', '-d', ...mounts, ...labels, options.image ?? IMAGE, id, ...command);
      return waitFor(`task ${id}`, () => taskPid(id), 10_000);
    },
    taskPid,
    async exitCode(id, timeoutMs = 15_000) {
      await waitFor(
        `task ${id} to stop`,
        async () =>
          (await ctr('task', 'ls')).split('\n').some((l) => l.startsWith(`${id} `) && l.includes('STOPPED')),
        timeoutMs,
      );
      // `ctr task rm` warns "task ID exit with non-zero exit code N" and says nothing for 0.
      const { stderr } = await execFileAsync(
        join(containerdBin, 'ctr'),
        ['-a', socket, '-n', namespace, 'task', 'rm', id],
        {
          env,
          timeout: 60_000,
        },
      );
      return Number(/exit code (\d+)/.exec(stderr)?.[1] ?? 0);
    },
    remove,
    killDaemon,
    startDaemon,
    async stop() {
      if (daemon !== undefined) for (const id of [...ids]) await remove(id);
      await killDaemon();
      // Shims outlive the daemon; each names our socket on its command line.
      for (const pid of await pidsWhoseCmdlineHas(socket)) process.kill(pid, 'SIGKILL');
      for (const mount of await mountsUnder(dir))
        await execFileAsync('umount', ['-l', mount]).catch(() => {});
      await rm(dir, { recursive: true, force: true });
      if (!runExisted) await rm(RUN_DIR, { recursive: true, force: true });
      else
        for (const entry of await listRun())
          if (!runBefore.has(entry)) await rm(join(RUN_DIR, entry), { recursive: true, force: true });
    },
  };
}

/** Two images of the static busybox (the test image and another, for the "other image" check), and Python's. */
async function importImages(dir: string, ctr: (...args: string[]) => Promise<string>): Promise<void> {
  await ctr('images', 'import', await pythonImage());
  const rootfs = join(dir, 'image/rootfs');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  for (const d of ['tmp', 'proc', 'sys', 'dev', 'etc']) await mkdir(join(rootfs, d), { recursive: true });
  await copyFile(join(containerdBin, 'busybox'), join(rootfs, 'bin/busybox'));
  // A file of the image that workloads may delete (a whiteout in their upperdir).
  await writeFile(join(rootfs, 'etc/doomed'), 'delete me\n');
  for (const applet of ['sh', 'sleep', 'cat', 'echo', 'mkdir', 'rm', 'ls'])
    await symlink('busybox', join(rootfs, 'bin', applet));
  const image = join(dir, 'image');
  await execFileAsync('tar', ['-C', rootfs, '-cf', join(image, 'layer.tar'), '.']);
  const diffId = createHash('sha256')
    .update(await readFile(join(image, 'layer.tar')))
    .digest('hex');
  for (const tag of [IMAGE, OTHER_IMAGE]) {
    const config = {
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'], Labels: { tag } },
      rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
    };
    await writeFile(join(image, 'config.json'), JSON.stringify(config));
    await writeFile(
      join(image, 'manifest.json'),
      JSON.stringify([{ Config: 'config.json', RepoTags: [tag], Layers: ['layer.tar'] }]),
    );
    await execFileAsync('tar', [
      '-C',
      image,
      '-cf',
      join(dir, 'image.tar'),
      'config.json',
      'manifest.json',
      'layer.tar',
    ]);
    await ctr('images', 'import', join(dir, 'image.tar'));
  }
}

async function listRun(): Promise<Set<string>> {
  const out = new Set<string>();
  for (const sub of await readdir(RUN_DIR).catch(() => [] as string[])) {
    out.add(sub);
    for (const entry of await readdir(join(RUN_DIR, sub)).catch(() => [] as string[]))
      out.add(join(sub, entry));
  }
  return out;
}

async function pidsWhoseCmdlineHas(text: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text) && Number(name) !== process.pid) out.push(Number(name));
  }
  return out;
}

async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${dir}/`))
    .reverse();
}

/** Python modules a small HTTP server never needs (tests, GUI, packaging): left out of the image. */
const PYTHON_LEFT_OUT = [
  'test',
  'dist-packages',
  'site-packages',
  'idlelib',
  'tkinter',
  'ensurepip',
  'lib2to3',
  'turtledemo',
  'pydoc_data',
];

/**
 * A docker-archive of this machine's /usr/bin/python3 with the libraries it loads and the static busybox,
 * built once into .tools/containerd (it is the same for every suite).
 */
async function pythonImage(): Promise<string> {
  const archive = join(containerdBin, '..', 'python-image.tar');
  if (existsSync(archive)) return archive;
  const work = await mkdtemp(join(tmpdir(), 'snapback-pyimage-'));
  try {
    const python = await realpath('/usr/bin/python3');
    const version = /python(\d+\.\d+)$/.exec(python)?.[1] ?? '3';
    const libraries = (await execFileAsync('ldd', [python])).stdout
      .split('\n')
      .map((l) => /(\/\S+) \(0x/.exec(l)?.[1])
      .filter((p): p is string => p !== undefined);
    const rootfs = join(work, 'rootfs');
    for (const d of ['bin', 'tmp', 'proc', 'sys', 'dev', 'etc', 'usr/bin'])
      await mkdir(join(rootfs, d), { recursive: true });
    await copyFile(join(containerdBin, 'busybox'), join(rootfs, 'bin/busybox'));
    for (const applet of ['sh', 'sleep', 'cat', 'echo', 'mkdir', 'rm', 'ls', 'wget'])
      await symlink('busybox', join(rootfs, 'bin', applet));
    const layer = join(work, 'layer.tar');
    await execFileAsync('tar', ['-C', rootfs, '-cf', layer, '.']);
    await execFileAsync('tar', [
      '-C',
      '/',
      '-rhf',
      layer,
      ...PYTHON_LEFT_OUT.map((e) => `--exclude=usr/lib/python${version}/${e}`),
      '--exclude=__pycache__',
      python.slice(1),
      `usr/lib/python${version}`,
      ...libraries.map((l) => l.slice(1)),
    ]);
    await symlink(`python${version}`, join(rootfs, 'usr/bin/python3'));
    await execFileAsync('tar', ['-C', rootfs, '-rf', layer, 'usr/bin/python3']);
    const diffId = createHash('sha256')
      .update(await readFile(layer))
      .digest('hex');
    const config = {
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/usr/bin/python3'] },
      rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
    };
    await writeFile(join(work, 'config.json'), JSON.stringify(config));
    await writeFile(
      join(work, 'manifest.json'),
      JSON.stringify([{ Config: 'config.json', RepoTags: [PYTHON_IMAGE], Layers: ['layer.tar'] }]),
    );
    await execFileAsync('tar', [
      '-C',
      work,
      '-cf',
      `${archive}.partial`,
      'config.json',
      'manifest.json',
      'layer.tar',
    ]);
    await rename(`${archive}.partial`, archive);
    return archive;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
