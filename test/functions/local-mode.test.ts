/** Local mode (no Kubernetes: one agent, one node) and `snapback send`, in process against real servers. */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { functions } from '../../functions/index.js';
import { main } from '../../src/cli/main.js';
import { createAgentDispatcher } from '../../src/dispatch/agent-dispatcher.js';
import { createLocalResolver } from '../../src/dispatch/resolver.js';
import { Workload } from '../../src/generated/snapback/agent/v1/agent.js';
import { type FunctionsServer, startFunctionsServer } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';
import { type FakeAgent, startFakeAgent } from '../helpers/fake-agent.js';
import { awsSpotWarning } from '../helpers/notices.js';

async function snapback(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [stdout, stderr] = [new PassThrough(), new PassThrough()];
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (c: Buffer) => out.push(c.toString()));
  stderr.on('data', (c: Buffer) => err.push(c.toString()));
  const io = { stdout, stderr, env: {}, signal: new AbortController().signal };
  const code = await main(argv, io, functions);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

describe('local mode and snapback send', () => {
  let agent: FakeAgent;
  let server: FunctionsServer;
  let url: string;
  before(async () => {
    agent = await startFakeAgent('laptop');
    agent.workloads = [
      Workload.fromPartial({ name: 'counter', pid: 10, running: true }),
      Workload.fromPartial({ name: 'stopped', pid: 0, running: false }),
    ];
    const client = createAgentDispatcher();
    const resolver = createLocalResolver({
      agent: agent.address,
      node: 'laptop',
      providerId: 'aws:///us-east-2a/i-0123456789abcdef0',
      agents: client,
    });
    server = await startFunctionsServer(
      { functions, serve: 'all', resolver, agents: client, log: silentLogger() },
      0,
      '127.0.0.1',
    );
    url = `http://127.0.0.1:${server.port}/`;
  });
  after(async () => {
    await server.close();
    await agent.close();
  });

  it('send posts a checkpoint request and prints the completion event', async () => {
    const data = JSON.stringify({ namespace: 'default', pod: 'counter' });
    const { code, stdout } = await snapback(
      'send',
      '--to',
      url,
      '--type',
      'io.snapback.checkpoint.requested',
      '--data',
      data,
      '--id',
      'cli-1',
    );
    assert.equal(code, 0);
    const printed = JSON.parse(stdout) as {
      status: number;
      reply: { type: string; data: { checkpointId: string } };
    };
    assert.equal(printed.reply.type, 'io.snapback.checkpoint.completed');
    assert.equal(agent.checkpoints[0]?.request.target?.pod, 'counter');
    assert.match(printed.reply.data.checkpointId, /^counter-[0-9a-f]{10}$/);
  });

  it('an AWS notice for this provider id checkpoints every running workload; others are skipped', async () => {
    const before = agent.checkpoints.length;
    const data = JSON.stringify(awsSpotWarning('i-0123456789abcdef0', new Date().toISOString()));
    const { code, stdout } = await snapback(
      'send',
      '--to',
      url,
      '--type',
      'aws.ec2.spot',
      '--data',
      data,
      '--mode',
      'structured',
    );
    assert.equal(code, 0, stdout);
    assert.equal(agent.checkpoints.length, before + 1);
    assert.match(stdout, /"outcome": "skipped"/);
  });

  it('send reports a 400 with its details and exit status 2', async () => {
    const { code, stdout } = await snapback(
      'send',
      '--to',
      url,
      '--type',
      'io.snapback.restore.requested',
      '--data',
      '{}',
    );
    assert.equal(code, 2);
    assert.match(stdout, /data\.checkpointId/);
  });

  it('function without an agent or a cluster is a usage error', async () => {
    const { code, stderr } = await snapback('function', 'all', '--port', '0');
    assert.equal(code, 2);
    assert.match(stderr, /--agent/);
  });
});
