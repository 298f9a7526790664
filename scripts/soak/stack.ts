/**
 * The soak's stack, all on loopback: real agents (the CLI, process runtime) each running small real
 * workloads, a Kubernetes API stand-in that places them on nodes, and the functions as users run them
 * (`snapback function all --kubeconfig …`) in their own process, so its RSS is its own.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { type AgentProcess, python, startAgent, workloadScript } from '../../test/helpers/agent-process.js';
import { type FakeKube, node, pod, startFakeKube } from '../../test/helpers/fake-kube.js';
import { readNumber, waitFor } from '../../test/helpers/proc.js';
import { spawnCli } from '../../test/helpers/snapback-cli.js';

export interface Workload {
  name: string;
  agent: AgentProcess;
}

export interface Stack {
  url: string;
  functions: ChildProcess;
  agents: AgentProcess[];
  workloads: Workload[];
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface StackOptions {
  agents: number;
  workloadsPerAgent: number;
  mib: number;
  /** Extra NODE_OPTIONS for the functions process (e.g. a heap limit). */
  functionsNodeOptions?: string;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const agents: AgentProcess[] = [];
  const workloads: Workload[] = [];
  let kube: FakeKube | undefined;
  let functions: ChildProcess | undefined;
  const close = async () => {
    if (functions && functions.exitCode === null) {
      const exited = new Promise((resolve) => functions!.once('exit', resolve));
      functions.kill('SIGTERM');
      await exited;
    }
    for (const w of workloads) await w.agent.client.stopWorkload({ name: w.name }).catch(() => {});
    for (const a of agents) {
      await a.stop();
      await a.cleanup();
    }
    await kube?.close();
  };
  try {
    for (let i = 0; i < options.agents; i++) agents.push(await startAgent({ env: { LOG_LEVEL: 'warn' } }));
    kube = await startFakeKube();
    kube.nodes = agents.map((_, i) => node(`soak-node-${i}`, `aws:///soak/i-${i}`));
    for (const [i, agent] of agents.entries()) {
      const agentPod = pod('snapback-system', `agent-${i}`, `soak-node-${i}`, {
        labels: { 'app.kubernetes.io/name': 'snapback-agent' },
        ip: '127.0.0.1',
      });
      agentPod.spec!.containers[0]!.ports = [
        { name: 'grpc', containerPort: Number(agent.address.split(':')[1]) },
      ];
      kube.pods.push(agentPod);
      for (let j = 0; j < options.workloadsPerAgent; j++) {
        const name = `soak-${i}-${j}`;
        const out = join(agent.dir, `${name}.counter`);
        await agent.client.startWorkload({
          name,
          command: [python, workloadScript, String(options.mib), out],
        });
        workloads.push({ name, agent });
        await waitFor(`${name} to count`, async () => ((await readNumber(out)) ?? 0) > 1, 30_000);
        // The process runtime knows workloads by name in namespace "default": the pod is the workload.
        kube.pods.push(pod('default', name, `soak-node-${i}`, { labels: { 'snapback.io/enabled': 'true' } }));
      }
    }
    const port = await freePort();
    functions = spawnCli(['function', 'all', '--kubeconfig', kube.kubeconfig, '--port', String(port)], {
      env: {
        ...process.env,
        SNAPBACK_LOG_LEVEL: 'warn',
        NODE_OPTIONS: [process.env['NODE_OPTIONS'], options.functionsNodeOptions].filter(Boolean).join(' '),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const url = `http://127.0.0.1:${port}/`;
    await waitFor(
      'the functions to be ready',
      async () => {
        if (functions!.exitCode !== null)
          throw new Error(`snapback function exited with ${functions!.exitCode}`);
        return (await fetch(`${url}health/readiness`).catch(() => undefined))?.ok || undefined;
      },
      20_000,
    );
    return { url, functions, agents, workloads, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Resident set size of a process, in bytes (Linux /proc). */
export async function rssOf(pid: number): Promise<number | undefined> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kib = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kib === undefined ? undefined : Number(kib) * 1024;
}
