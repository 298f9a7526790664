/**
 * The watcher on Azure, against a loopback stand-in for IMDS Scheduled Events
 * (test/helpers/metadata/azure-imds.ts): `Metadata: true`, DocumentIncarnation; Preempt and Terminate
 * events naming this VM sent once each with their NotBefore, other VMs' events and other types not sent,
 * nothing approved unless configured.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
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

const VM = 'aks-spot-12345678-vmss_3';

describe('snapback watch on Azure (Scheduled Events stand-in)', () => {
  let azure: FakeAzureImds;
  let sink: NoticeSink;
  let dead: string;
  let stateDir: string;
  let watcher: RunningWatcher | undefined;

  before(async () => {
    [azure, sink, dead] = await Promise.all([startFakeAzureImds(VM), startNoticeSink(), deadEndpoint()]);
  });
  after(async () => {
    await Promise.all([azure.close(), sink.close()]);
  });
  beforeEach(async () => {
    stateDir = await newStateDir();
    sink.received.length = 0;
    azure.setEvents([]);
    azure.approved.length = 0;
  });
  afterEach(async () => {
    await watcher?.stop();
    watcher = undefined;
    await removeDir(stateDir);
  });

  const run = () => {
    watcher = startWatcher({
      sink: sink.url,
      stateDir,
      endpoints: { aws: dead, gce: dead, azure: azure.url },
    });
  };
  const morePolls = async (n: number) => {
    const from = azure.documentsServed;
    await waitFor(`${n} more polls`, () => azure.documentsServed >= from + n);
  };

  it('the stand-in follows the contract: 400 without Metadata: true, DocumentIncarnation grows with changes', async () => {
    const url = `${azure.url}/metadata/scheduledevents?api-version=2020-07-01`;
    assert.equal((await fetch(url)).status, 400);
    const first = (await (await fetch(url, { headers: { Metadata: 'true' } })).json()) as {
      DocumentIncarnation: number;
    };
    azure.setEvents([scheduledEvent('Freeze', 'F-1', [VM], 60_000)]);
    const second = (await (await fetch(url, { headers: { Metadata: 'true' } })).json()) as {
      DocumentIncarnation: number;
    };
    assert.ok(second.DocumentIncarnation > first.DocumentIncarnation);
  });

  it("a Preempt naming this VM is sent once with its NotBefore; another VM's and a Freeze are not", async () => {
    run();
    azure.setEvents([
      scheduledEvent('Preempt', 'OTHER-1', ['aks-spot-12345678-vmss_4'], 30_000),
      scheduledEvent('Freeze', 'FREEZE-1', [VM], 30_000),
    ]);
    await morePolls(3);
    assert.equal(sink.received.length, 0);
    const preempt = scheduledEvent('Preempt', 'PREEMPT-1', [VM], 30_000);
    azure.setEvents([preempt]);
    await waitFor('the notice', () => sink.received.length === 1);
    const data = sink.received[0]!.data;
    assert.equal(data.node, 'node-a');
    assert.equal(data.deadline, new Date(preempt.NotBefore).toISOString());
    assert.match(data.reason!, /Preempt PREEMPT-1/);
    await morePolls(3);
    assert.equal(sink.received.length, 1);
    assert.deepEqual(azure.approved, [], 'nothing is approved unless configured');

    await watcher!.stop();
    azure.setEvents([preempt]); // a new incarnation of the same event
    run();
    await morePolls(3);
    assert.equal(sink.received.length, 1, 'a restarted watcher remembers the EventId');
  });

  it('a Terminate naming this VM is sent with its own NotBefore', async () => {
    run();
    const terminate = scheduledEvent('Terminate', 'TERMINATE-1', [VM.toUpperCase()], 600_000);
    azure.setEvents([terminate]);
    await waitFor('the notice', () => sink.received.length === 1);
    assert.equal(sink.received[0]!.data.deadline, new Date(terminate.NotBefore).toISOString());
    assert.match(sink.received[0]!.data.reason!, /Terminate TERMINATE-1/);
  });
});
