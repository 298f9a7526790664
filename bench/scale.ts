/**
 * Resolution at scale: AWS spot warnings for a node with 100 opted-in pods while the API server holds 5,000
 * pods on 50 nodes (the tests' loopback API server, bench/kube-server.ts, in a process of its own), through
 * the functions in cluster mode — resolving with a request per question (`kube-resolver.ts`, as before) and
 * from informers (`informer-resolver.ts`), side by side, notice by notice; each as deployed (a Kubernetes
 * Event recorded on every checkpointed pod) and without the Events (the resolution's own cost shows). Per
 * notice: the latency (sent → the reply with its 100 completions; the agent stand-in answers every
 * checkpoint at once) and the API requests it caused — reads (lists, gets) and writes (the Events).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { functions } from '../functions/index.js';
import { postEvent, spotInterruptionWarning } from '../src/demo/events.js';
import { createAgentDispatcher } from '../src/dispatch/agent-dispatcher.js';
import { createInformerResolver } from '../src/dispatch/informer-resolver.js';
import { type KubeCache, startKubeCache } from '../src/dispatch/kube-cache.js';
import { createKubeResolver } from '../src/dispatch/kube-resolver.js';
import { createKubeRecorder } from '../src/dispatch/recorder.js';
import { EventType } from '../src/events/types.js';
import { type FunctionsServer, startFunctionsServer } from '../src/http/server.js';
import { silentLogger } from '../src/log.js';
import { root } from './agent.js';
import { percentile, type Summary, summarize } from './stats.js';

export const Resolution = { REQUESTS: 'requests', INFORMERS: 'informers' } as const;
export type Resolution = (typeof Resolution)[keyof typeof Resolution];

export interface ScaleSide {
  resolution: Resolution;
  /** Whether a Kubernetes Event was recorded on each checkpointed pod (as deployed), or not (resolution alone). */
  events: boolean;
  p50Ms: Summary;
  p99Ms: Summary;
  /** API reads (lists and gets) per notice, and writes (Events recorded), over every notice. */
  readsPerNotice: number;
  writesPerNotice: number;
}

export interface ScaleResult {
  pods: number;
  nodes: number;
  podsOnNode: number;
  rounds: number;
  noticesPerRound: number;
  sides: ScaleSide[];
  /** Watch requests the informers opened during the run (their first three, and re-opened quiet ones). */
  watchRequests: number;
}

async function child(
  args: string[],
  pattern: RegExp,
): Promise<{ proc: ChildProcess; match: RegExpExecArray }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const found = pattern.exec(line);
      if (found) resolve(found);
    });
    proc.once('exit', (code) => reject(new Error(`${args[0]} exited (${code})`)));
  });
  return { proc, match };
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  await exited;
}

export async function benchScale(
  signal: AbortSignal,
  rounds = 3,
  noticesPerRound = 30,
  pods = 5000,
  nodes = 50,
  podsOnNode = 100,
): Promise<ScaleResult> {
  const children: ChildProcess[] = [];
  const servers: FunctionsServer[] = [];
  let cache: KubeCache | undefined;
  try {
    const agent = await child([join(root, 'bench', 'stand-in-agent.ts')], /^agent listening on (\S+)/);
    children.push(agent.proc);
    const kube = await child(
      [
        join(root, 'bench', 'kube-server.ts'),
        '--agent',
        agent.match[1]!,
        '--pods',
        String(pods),
        '--nodes',
        String(nodes),
        '--on-node',
        String(podsOnNode),
      ],
      /^kube ready (\S+) (\d+)/,
    );
    children.push(kube.proc);
    const requestsFrom = async (from: number) =>
      (await (await fetch(`http://127.0.0.1:${kube.match[2]}/requests?from=${from}`)).json()) as {
        total: number;
        requests: string[];
      };
    const kc = new KubeConfig();
    kc.loadFromFile(kube.match[1]!);
    const api = kc.makeApiClient(CoreV1Api);
    const log = silentLogger();
    const before = (await requestsFrom(Number.MAX_SAFE_INTEGER)).total;
    cache = await startKubeCache(kc, api, { log });
    const variants = [
      { resolution: Resolution.REQUESTS, events: true },
      { resolution: Resolution.INFORMERS, events: true },
      { resolution: Resolution.REQUESTS, events: false },
      { resolution: Resolution.INFORMERS, events: false },
    ];
    for (const v of variants) {
      const resolver =
        v.resolution === Resolution.REQUESTS ? createKubeResolver(api) : createInformerResolver(api, cache);
      const deps = {
        functions,
        serve: 'preemption',
        resolver,
        agents: createAgentDispatcher(),
        log,
      } as const;
      servers.push(
        await startFunctionsServer(
          v.events ? { ...deps, recorder: createKubeRecorder(api, log) } : deps,
          0,
          '127.0.0.1',
        ),
      );
    }
    const instance = { zone: 'us-east-1a', instanceId: `i-${'0'.repeat(17)}` };
    const notice = async (server: FunctionsServer) => {
      const t0 = performance.now();
      const reply = await postEvent(
        `http://127.0.0.1:${server.port}/preemption`,
        spotInterruptionWarning(instance, new Date()),
        signal,
      );
      const ms = performance.now() - t0;
      const events = JSON.parse(reply.body) as Array<{ type: string }>;
      const completed = events.filter((e) => e.type === EventType.CHECKPOINT_COMPLETED).length;
      if (reply.status !== 200 || completed !== podsOnNode)
        throw new Error(
          `${completed} of ${podsOnNode} checkpoints completed (${reply.status}): ${reply.body.slice(0, 300)}`,
        );
      return ms;
    };
    for (const server of servers) for (let i = 0; i < 5; i++) await notice(server); // warm-up
    const latency = variants.map(() => [] as number[][]);
    const counted = variants.map(() => ({ reads: 0, writes: 0 }));
    for (let r = 0; r < rounds; r++) {
      const samples = variants.map(() => [] as number[]);
      for (let i = 0; i < noticesPerRound; i++) {
        // Side by side: one notice each, in turn, so that every variant meets the same load on the machine.
        for (const [v, server] of servers.entries()) {
          const from = (await requestsFrom(Number.MAX_SAFE_INTEGER)).total;
          samples[v]!.push(await notice(server));
          const { requests } = await requestsFrom(from);
          counted[v]!.reads += requests.filter(
            (q) => q.startsWith('GET ') && !q.includes('watch=true'),
          ).length;
          counted[v]!.writes += requests.filter((q) => q.startsWith('POST ')).length;
        }
      }
      for (const [v, s] of samples.entries()) latency[v]!.push(s);
    }
    const total = rounds * noticesPerRound;
    const sides = variants.map(
      (v, i): ScaleSide => ({
        ...v,
        p50Ms: summarize(latency[i]!.map((s) => percentile(s, 50))),
        p99Ms: summarize(latency[i]!.map((s) => percentile(s, 99))),
        readsPerNotice: counted[i]!.reads / total,
        writesPerNotice: counted[i]!.writes / total,
      }),
    );
    const opened = (await requestsFrom(before)).requests.filter((q) => q.includes('watch=true')).length;
    return { pods, nodes, podsOnNode, rounds, noticesPerRound, sides, watchRequests: opened };
  } finally {
    for (const server of servers) await server.close();
    await cache?.stop();
    for (const proc of children.reverse()) await stop(proc);
  }
}
