/**
 * One real containerd (+ runc) and one agent of the containerd runtime for a test file, with what its
 * tests share: reading a loop's counter through /proc, placeholders running snapback-init from a folder
 * bound where a pod's init container would put it, and pod-like emptyDir folders.
 */
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentProcess, startAgent } from './agent-process.js';
import { type Containerd, containerdAgentArgs, startContainerd } from './containerd.js';

export const initBinary = new URL('../../.tools/bin/snapback-init', import.meta.url).pathname;
/** Where placeholders find snapback-init (an emptyDir filled by an init container, in a pod). */
export const INIT_DIR = '/snapback';

export interface ContainerdSuite {
  ctd: Containerd;
  agent: AgentProcess;
  dir: string;
  /** A placeholder's command: snapback-init waiting `waitS` seconds before running `command`. */
  initCommand(command: string[], waitS?: number): string[];
  /** Mounts for a placeholder with snapback-init (its own control folder) and, optionally, emptyDirs. */
  initMounts(name: string, emptyDirs?: string[]): Promise<{ source: string; destination: string }[]>;
  /** A pod-like emptyDir folder (…/volumes/kubernetes.io~empty-dir/NAME) mounted at `destination`. */
  emptyDir(pod: string, destination: string): Promise<{ source: string; destination: string }>;
  stop(): Promise<void>;
}

export async function startContainerdSuite(agentArgs: string[] = []): Promise<ContainerdSuite> {
  const ctd = await startContainerd();
  const dir = await mkdtemp(join(tmpdir(), 'snapback-agent-ctd-'));
  let agent: AgentProcess;
  try {
    agent = await startAgent({
      dir,
      args: [...containerdAgentArgs(ctd), ...agentArgs],
    });
  } catch (err) {
    await ctd.stop();
    throw err;
  }
  const emptyDir = async (pod: string, destination: string) => {
    const source = join(dir, 'pods', pod, 'volumes/kubernetes.io~empty-dir', destination.replace(/\//g, '-'));
    await mkdir(source, { recursive: true });
    return { source, destination };
  };
  return {
    ctd,
    agent,
    dir,
    initCommand: (command, waitS = 120) => [
      `${INIT_DIR}/snapback-init`,
      '--wait',
      String(waitS),
      '--',
      ...command,
    ],
    async initMounts(name, emptyDirs = []) {
      // Its own copy, as each pod's emptyDir would be: the control files live beside it.
      const init = join(dir, 'pods', name, 'snapback');
      await mkdir(init, { recursive: true });
      await copyFile(initBinary, join(init, 'snapback-init'));
      await chmod(join(init, 'snapback-init'), 0o755);
      return [
        { source: init, destination: INIT_DIR },
        ...(await Promise.all(emptyDirs.map((d) => emptyDir(name, d)))),
      ];
    },
    emptyDir,
    async stop() {
      // Each step runs even when an earlier one fails: nothing may outlive the suite.
      await agent.stop().catch(() => {});
      try {
        await ctd.stop();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/** `i secret` that a loop writes to `file` inside the container of `pid` (through /proc). */
export async function counterIn(
  pid: number,
  file = '/data/counter',
): Promise<{ i: number; secret: string } | undefined> {
  const text = await readFile(`/proc/${pid}/root${file}`, 'utf8').catch(() => '');
  const [i, secret] = text.trim().split(' ');
  return i && secret ? { i: Number(i), secret } : undefined;
}
