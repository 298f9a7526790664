/**
 * The preStop path end to end on loopback, as docs/examples/prestop-pod.yaml deploys it: the pod's relay
 * (its args and env from that file, through `snapback prestop`'s option table), the preemption function
 * (informers, sink), a fake agent, and the kubelet's part played by the test — delete the pod through the
 * API, then send the workload container's preStop httpGet (its path and port from the file) to the relay.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { Pod } from 'kubernetes-models/v1/Pod';
import { parse } from 'yaml';
import { prestopCommand, prestopOptions } from '../../src/cli/commands/prestop.js';
import { loadConfig } from '../../src/config/load-config.js';
import { silentLogger } from '../../src/log.js';
import { type PreStopRelay, startPreStopRelay } from '../../src/prestop/relay.js';
import { type FakeAgent, startFakeAgent } from '../helpers/fake-agent.js';
import { agentPod, type FakeKube, node, pod, startFakeKube } from '../helpers/fake-kube.js';
import { postBinary, type Sink, startClusterFunctions, startSink } from '../helpers/functions-env.js';

const example = parse(
  readFileSync(new URL('../../docs/examples/prestop-pod.yaml', import.meta.url), 'utf8'),
) as V1Pod;
const sidecar = example.spec!.initContainers![0]!;
const hook = example.spec!.containers[0]!.lifecycle!.preStop!.httpGet!;
type Answer = {
  checkpoint?: { checkpointId: string; pod: string; container: string; error?: { code: string } };
  error?: { code: string; message: string; details?: Array<{ field: string }> };
};

describe('a pod asks for its checkpoint in its preStop hook (docs/examples/prestop-pod.yaml)', () => {
  let kube: FakeKube;
  let api: CoreV1Api;
  let agent: FakeAgent;
  let sink: Sink;
  let fns: Awaited<ReturnType<typeof startClusterFunctions>>;
  let relay: PreStopRelay;
  let round = 0;

  const received = (type: string) => sink.received.filter((r) => r.headers['ce-type'] === type);
  /** The relay's option values, from the example's args and env (fieldRefs resolved, the function here). */
  const relayConfig = (podName = example.metadata!.name!) => {
    const env: Record<string, string> = {};
    for (const e of sidecar.env ?? []) {
      const path = e.valueFrom?.fieldRef?.fieldPath;
      env[e.name] = path === 'metadata.name' ? podName : path === 'metadata.namespace' ? 'ml' : e.value!;
    }
    env['SNAPBACK_PRESTOP_TO'] = `${fns.url}${new URL(env['SNAPBACK_PRESTOP_TO']!).pathname}`;
    const args = sidecar.args!.slice(1).map((a) => (a === `0.0.0.0:${hook.port}` ? '127.0.0.1:0' : a));
    return { ...loadConfig(prestopOptions, args, env).values, env };
  };
  /** The kubelet: the hook's GET to the pod's IP (here, the relay on loopback) on the hook's port. */
  const kubelet = (path = hook.path!) =>
    fetch(`http://127.0.0.1:${relay.port}${path}`, { headers: { 'user-agent': 'kube-lifecycle/1.31' } });

  before(async () => {
    [kube, agent, sink] = await Promise.all([startFakeKube(), startFakeAgent('node-a'), startSink()]);
    const kc = new KubeConfig();
    kc.loadFromFile(kube.kubeconfig);
    api = kc.makeApiClient(CoreV1Api);
  });
  after(() => Promise.all([kube.close(), agent.close(), sink.close()]));
  beforeEach(async () => {
    round++;
    const workload = structuredClone(example);
    workload.metadata!.uid = `uid-trainer-0-${round}`;
    workload.spec!.nodeName = 'node-a';
    workload.status = { phase: 'Running', containerStatuses: [] };
    kube.nodes = [node('node-a', 'aws:///z/i-0aaaaaaaaaaaaaaaa')];
    kube.pods = [agentPod('agent-a', 'node-a', agent.address), workload, pod('ml', 'web', 'node-a')];
    sink.received.length = 0;
    agent.checkpoints.length = 0;
    agent.behaviour = () => ({ kind: 'ok', delayMs: 200 });
    fns = await startClusterFunctions(kube, { sink: sink.url });
    const config = relayConfig();
    relay = await startPreStopRelay(
      { to: config.to, namespace: config.namespace, pod: config.pod, timeoutMs: config.timeoutS * 1000 },
      { host: '127.0.0.1', port: 0 },
      silentLogger(),
    );
  });
  afterEach(async () => {
    await relay.close();
    await fns.close();
  });

  it('the example is a valid Pod: the hook reaches the relay on the pod IP, the relay knows its pod', () => {
    new Pod(example as never).validate();
    assert.equal(hook.host, undefined, 'the kubelet sends it to the pod IP');
    assert.equal(hook.port, sidecar.ports?.[0]?.containerPort);
    assert.ok(
      sidecar.args?.includes(`0.0.0.0:${hook.port}`),
      'the relay listens on the pod IP, on that port',
    );
    assert.equal(sidecar.restartPolicy, 'Always', 'a native sidecar: it outlives the workload container');
    const config = relayConfig();
    assert.deepEqual([config.namespace, config.pod], ['ml', 'trainer-0']);
  });

  it('deleted: the hook is answered once the checkpoint is done, within the grace period', async () => {
    const deleted = await api.deleteNamespacedPod({ name: 'trainer-0', namespace: 'ml' });
    const deletion = new Date(deleted.metadata!.deletionTimestamp as unknown as string).getTime();
    const res = await kubelet();
    assert.equal(res.status, 200);
    const answer = (await res.json()) as Answer;
    assert.deepEqual([answer.checkpoint?.pod, answer.checkpoint?.container], ['trainer-0', 'app']);
    // Answered after the completion went out: the checkpoint was done when SIGTERM would follow.
    assert.deepEqual(
      received('io.snapback.checkpoint.completed').map(
        (r) => (r.body as { checkpointId: string }).checkpointId,
      ),
      [answer.checkpoint?.checkpointId],
    );
    assert.equal(agent.checkpoints.length, 1);
    const deadline = Number(agent.checkpoints[0]!.deadline);
    assert.ok(
      deadline <= deletion - 10_000 + 1_000 && deadline > Date.now() + 60_000,
      `deadline ${deadline - deletion} ms from the deletion`,
    );
  });

  it('an eviction: its DisruptionTarget update and the hook are one checkpoint', async () => {
    await api.patchNamespacedPodStatus(
      {
        name: 'trainer-0',
        namespace: 'ml',
        body: {
          status: {
            conditions: [
              {
                type: 'DisruptionTarget',
                status: 'True',
                reason: 'EvictionByEvictionAPI',
                lastTransitionTime: new Date(),
              },
            ],
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    const evicted = await api.deleteNamespacedPod({ name: 'trainer-0', namespace: 'ml' });
    const update = postBinary(
      fns.url,
      {
        specversion: '1.0',
        id: `update-${round}`,
        source: kube.url,
        type: 'dev.knative.apiserver.resource.update',
      },
      { ...evicted, kind: 'Pod', apiVersion: 'v1' },
    );
    const [res, posted] = await Promise.all([kubelet(), update]);
    assert.equal(posted.status, 202);
    assert.equal(res.status, 200);
    assert.equal(agent.checkpoints.length, 1);
    assert.equal(received('io.snapback.checkpoint.completed').length, 1);
  });

  it('a failed checkpoint: the hook is answered with the error once it failed', async () => {
    agent.behaviour = () => ({
      kind: 'fail',
      code: grpc.status.FAILED_PRECONDITION,
      phase: 'criuDump',
      message: 'criu dump failed',
    });
    await api.deleteNamespacedPod({ name: 'trainer-0', namespace: 'ml' });
    const res = await kubelet();
    assert.equal(res.status, 412);
    const answer = (await res.json()) as Answer;
    assert.equal(answer.error?.code, 'FAILED_PRECONDITION');
    assert.equal(answer.checkpoint?.error?.code, 'FAILED_PRECONDITION');
    assert.equal(received('io.snapback.checkpoint.failed').length, 1);
  });

  it('a checkpoint that cannot finish in the grace period: answered when the time is up, not later', async () => {
    agent.behaviour = () => ({ kind: 'hang' });
    await api.patchNamespacedPod(
      { name: 'trainer-0', namespace: 'ml', body: { spec: { terminationGracePeriodSeconds: 12 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await api.deleteNamespacedPod({ name: 'trainer-0', namespace: 'ml' });
    // 12 s of grace, 10 s kept free: the call's deadline is 2 s away.
    const res = await kubelet();
    assert.equal(res.status, 504);
    assert.equal(((await res.json()) as Answer).error?.code, 'DEADLINE_EXCEEDED');
  });

  it('a container restart (no deletion) is a checkpoint of its own per restart; a pod that did not opt in is 404', async () => {
    const first = (await (await kubelet()).json()) as Answer;
    const again = (await (await kubelet()).json()) as Answer;
    assert.equal(
      again.checkpoint?.checkpointId,
      first.checkpoint?.checkpointId,
      'the same restart: the same checkpoint',
    );
    await api.patchNamespacedPodStatus(
      {
        name: 'trainer-0',
        namespace: 'ml',
        body: {
          status: {
            containerStatuses: [{ name: 'app', image: 'x', imageID: '', ready: false, restartCount: 1 }],
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    const next = (await (await kubelet()).json()) as Answer;
    assert.notEqual(next.checkpoint?.checkpointId, first.checkpoint?.checkpointId);
    assert.equal(agent.checkpoints.length, 2);
    const config = relayConfig('web');
    const other = await startPreStopRelay(
      { to: config.to, namespace: 'ml', pod: 'web', timeoutMs: 10_000 },
      { host: '127.0.0.1', port: 0 },
      silentLogger(),
    );
    try {
      const res = await fetch(`http://127.0.0.1:${other.port}${hook.path}`);
      assert.equal(res.status, 404);
    } finally {
      await other.close();
    }
  });

  it('once, for an exec hook: `snapback prestop` without --listen prints the answer and exits 0', async () => {
    const { env } = relayConfig();
    let out = '';
    const stdout = new Writable({
      write(chunk, _encoding, done) {
        out += String(chunk);
        done();
      },
    });
    const io = { stdout, stderr: process.stderr, env, signal: new AbortController().signal };
    assert.equal(await prestopCommand.run([], io), 0);
    assert.equal((JSON.parse(out) as Answer).checkpoint?.pod, 'trainer-0');
  });

  it('hostile hook requests are refused naming the field; nothing is dispatched', async () => {
    const bad = await kubelet('/prestop?container=Bad_Name');
    assert.equal(bad.status, 400);
    assert.deepEqual(
      ((await bad.json()) as Answer).error?.details?.map((d) => d.field),
      ['query.container'],
    );
    for (const [query, field] of [
      ['namespace=..%2Fx&pod=trainer-0', 'query.namespace'],
      ['namespace=ml', 'query.pod'],
      ['namespace=ml&pod=trainer-0&node=node-b', 'query.node'],
    ] as const) {
      const res = await fetch(`${fns.url}/prestop?${query}`, { method: 'POST' });
      assert.equal(res.status, 400, query);
      assert.deepEqual(
        ((await res.json()) as Answer).error?.details?.map((d) => d.field),
        [field],
      );
    }
    assert.equal(agent.checkpoints.length, 0);
  });
});
