/**
 * The watcher against the real functions (cluster mode, a loopback Kubernetes API and fake agents): its
 * events are a format the preemption function reads, so this node's opted-in pods are checkpointed and no
 * other node's. On Azure with `azureApproveVia`, the event is approved only after the function answered
 * that every pod was checkpointed, and not when a checkpoint failed.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { type FakeAgent, startFakeAgent } from '../helpers/fake-agent.js';
import { agentPod, type FakeKube, node, pod, startFakeKube } from '../helpers/fake-kube.js';
import { startClusterFunctions } from '../helpers/functions-env.js';
import { type FakeImds, startFakeImds } from '../helpers/metadata/aws-imds.js';
import { type FakeAzureImds, scheduledEvent, startFakeAzureImds } from '../helpers/metadata/azure-imds.js';
import {
  deadEndpoint,
  type NoticeSink,
  newStateDir,
  type RunningWatcher,
  removeDir,
  startNoticeSink,
  startWatcher,
  waitFor,
} from '../helpers/watch-env.js';

const enabled = { 'snapback.io/enabled': 'true' };
const VM = 'aks-spot-12345678-vmss_3';

describe('watcher → functions → agents (loopback)', () => {
  let kube: FakeKube;
  let agentA: FakeAgent;
  let agentB: FakeAgent;
  let imds: FakeImds;
  let azure: FakeAzureImds;
  let broker: NoticeSink;
  let dead: string;
  let fns: Awaited<ReturnType<typeof startClusterFunctions>>;
  let stateDir: string;
  let watcher: RunningWatcher | undefined;

  before(async () => {
    [kube, agentA, agentB, imds, azure, broker, dead] = await Promise.all([
      startFakeKube(),
      startFakeAgent('node-a'),
      startFakeAgent('node-b'),
      startFakeImds('i-0aaaaaaaaaaaaaaaa'),
      startFakeAzureImds(VM),
      startNoticeSink(),
      deadEndpoint(),
    ]);
    kube.nodes = [
      node('node-a', 'aws:///us-east-2a/i-0aaaaaaaaaaaaaaaa'),
      node('node-b', 'aws:///us-east-2b/i-0b'),
    ];
    kube.pods = [
      agentPod('agent-a', 'node-a', agentA.address),
      agentPod('agent-b', 'node-b', agentB.address),
      pod('ml', 'trainer-0', 'node-a', { labels: enabled }),
      pod('ml', 'trainer-1', 'node-a', { labels: enabled }),
      pod('ml', 'trainer-2', 'node-b', { labels: enabled }),
    ];
    fns = await startClusterFunctions(kube);
  });
  after(async () => {
    await fns.close();
    await Promise.all([
      kube.close(),
      agentA.close(),
      agentB.close(),
      imds.close(),
      azure.close(),
      broker.close(),
    ]);
  });
  beforeEach(async () => {
    stateDir = await newStateDir();
    for (const a of [agentA, agentB]) {
      a.checkpoints.length = 0;
      a.behaviour = () => ({ kind: 'ok' });
    }
    broker.received.length = 0;
    azure.approved.length = 0;
    azure.approvedAt.length = 0;
    azure.setEvents([]);
  });
  afterEach(async () => {
    await watcher?.stop();
    watcher = undefined;
    await removeDir(stateDir);
  });

  const pods = (agent: FakeAgent) => agent.checkpoints.map((c) => c.request.target?.pod).sort();

  it("AWS spot instance-action: the watcher's event checkpoints this node's pods, once, even after a restart", async () => {
    const run = () => {
      watcher = startWatcher({
        sink: `${fns.url}/preemption`,
        stateDir,
        endpoints: { aws: imds.url, gce: dead, azure: dead },
      });
    };
    run();
    imds.spotAction = { action: 'terminate', time: new Date(Date.now() + 120_000).toISOString() };
    await waitFor('the checkpoints', () => agentA.checkpoints.length === 2);
    assert.deepEqual(pods(agentA), ['trainer-0', 'trainer-1']);
    assert.deepEqual(pods(agentB), []);
    await watcher!.stop();
    run();
    const from = imds.requests.length;
    await waitFor('polls of the restarted watcher', () => imds.requests.length >= from + 10);
    assert.equal(agentA.checkpoints.length, 2);
    imds.spotAction = undefined;
  });

  describe('Azure approval through the preemption function', () => {
    beforeEach(() => {
      kube.nodes = [
        node(
          'node-a',
          'azure:///subscriptions/0/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/aks-spot-12345678-vmss/virtualMachines/3',
        ),
        node(
          'node-b',
          'azure:///subscriptions/0/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/aks-spot-12345678-vmss/virtualMachines/4',
        ),
      ];
    });
    const run = () => {
      watcher = startWatcher({
        sink: broker.url,
        azureApproveVia: `${fns.url}/preemption`,
        stateDir,
        endpoints: { aws: dead, gce: dead, azure: azure.url },
      });
    };

    it('approves the Preempt (StartRequests) only after the checkpoints are done', async () => {
      const finishes: number[] = [];
      agentA.behaviour = () => {
        finishes.push(Date.now() + 300);
        return { kind: 'ok', delayMs: 300 };
      };
      run();
      azure.setEvents([scheduledEvent('Preempt', 'PREEMPT-OK', [VM], 60_000)]);
      await waitFor('the approval', () => azure.approved.length === 1);
      assert.deepEqual(azure.approved, ['PREEMPT-OK']);
      assert.deepEqual(pods(agentA), ['trainer-0', 'trainer-1']);
      assert.ok(
        azure.approvedAt[0]! >= Math.max(...finishes),
        'approved after the last checkpoint finished, not when the notice went out',
      );
      assert.equal(broker.received.length, 0, 'the function had the notice; the broker did not need it');
    });

    it('does not approve when a checkpoint failed: Azure keeps its NotBefore', async () => {
      agentA.behaviour = () => ({
        kind: 'fail',
        code: grpc.status.INTERNAL,
        phase: 'criuDump',
        message: 'boom',
      });
      run();
      azure.setEvents([scheduledEvent('Preempt', 'PREEMPT-FAIL', [VM], 60_000)]);
      await waitFor('the checkpoint attempts', () => agentA.checkpoints.length === 2);
      const from = azure.documentsServed;
      await waitFor('more polls', () => azure.documentsServed >= from + 5);
      assert.deepEqual(azure.approved, []);
    });

    it('falls back to the sink, without approving, when the function cannot be reached', async () => {
      watcher = startWatcher({
        sink: broker.url,
        azureApproveVia: `${dead}/preemption`,
        stateDir,
        endpoints: { aws: dead, gce: dead, azure: azure.url },
      });
      azure.setEvents([scheduledEvent('Preempt', 'PREEMPT-FALLBACK', [VM], 60_000)]);
      await waitFor('the notice at the broker', () => broker.received.length === 1);
      assert.equal(broker.received[0]!.data.node, 'node-a');
      assert.deepEqual(azure.approved, []);
    });
  });
});
