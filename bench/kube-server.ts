/**
 * The scale benchmark's API server: the tests' loopback API server (test/helpers/fake-kube.ts: lists,
 * watches, Events, every object checked against the Kubernetes schema) in a process of its own, so that it
 * does not share an event loop with the functions it answers, holding a cluster of `--pods` pods on `--nodes`
 * nodes: an agent pod per node (pointing at `--agent`), `--on-node` opted-in pods on the first node, and on
 * the others a mix of opted-in (one in five) and other pods. Prints `kube ready KUBECONFIG CONTROL_PORT`;
 * `GET http://127.0.0.1:CONTROL_PORT/requests?from=N` answers the requests it served from the Nth on.
 * SIGTERM stops it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import { agentPod, node, pod, startFakeKube } from '../test/helpers/fake-kube.js';

const { values } = parseArgs({
  options: {
    agent: { type: 'string' },
    pods: { type: 'string', default: '5000' },
    nodes: { type: 'string', default: '50' },
    'on-node': { type: 'string', default: '100' },
  },
});
const total = Number(values.pods);
const nodeCount = Number(values.nodes);
const onNode = Number(values['on-node']);
const enabled = { 'snapback.io/enabled': 'true' };

/** The instance id of node `i` (17 hex digits), its providerID `aws:///us-east-1a/i-…`. */
const instanceOf = (i: number) => `i-${i.toString(16).padStart(17, '0')}`;

const kube = await startFakeKube();
const nodeName = (i: number) => `node-${String(i).padStart(3, '0')}`;
kube.nodes = Array.from({ length: nodeCount }, (_, i) =>
  node(nodeName(i), `aws:///us-east-1a/${instanceOf(i)}`),
);
const pods: V1Pod[] = Array.from({ length: nodeCount }, (_, i) =>
  agentPod(`agent-${i}`, nodeName(i), values.agent!),
);
for (let i = 0; i < onNode; i++) pods.push(pod('work', `opted-${i}`, nodeName(0), { labels: enabled }));
for (let i = 0; pods.length < total; i++) {
  const where = nodeName(1 + (i % (nodeCount - 1)));
  pods.push(pod('other', `pod-${i}`, where, i % 5 === 0 ? { labels: enabled } : {}));
}
kube.pods = pods;

const control = createServer((req, res) => {
  const from = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('from') ?? 0);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ total: kube.requests.length, requests: kube.requests.slice(from) }));
});
await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
process.stdout.write(`kube ready ${kube.kubeconfig} ${(control.address() as AddressInfo).port}\n`);
process.once('SIGTERM', () => {
  control.close();
  void kube.close().then(() => process.exit(0));
});
