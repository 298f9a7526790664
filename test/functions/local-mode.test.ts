/** Local mode (no Kubernetes: one agent, one node) and `snapback send`, in process against real servers. */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { pino } from 'pino';
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
      '--json',
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
    assert.match(stdout, /^preemption of node laptop: 1 checkpointed, 0 failed, 1 skipped$/m);
    assert.match(stdout, /^ {2}default\/stopped {2}skipped /m);
  });

  it('send exits with the failure a *.failed answer reports, in words or as JSON', async () => {
    agent.behaviour = () => ({
      kind: 'fail',
      code: status.FAILED_PRECONDITION,
      phase: 'inspect',
      message: 'workload counter is not running',
    });
    try {
      const args = ['send', '--to', url, '--type', 'io.snapback.checkpoint.requested'];
      const data = ['--data', JSON.stringify({ namespace: 'default', pod: 'counter' })];
      const human = await snapback(...args, ...data);
      assert.equal(human.code, 5, human.stdout);
      assert.match(
        human.stdout,
        /^checkpoint of default\/counter failed: FAILED_PRECONDITION in inspect: workload counter is not running$/m,
      );
      const json = await snapback(...args, ...data, '--json');
      assert.equal(json.code, 5);
      const printed = JSON.parse(json.stdout) as { status: number; reply: { type: string } };
      assert.equal(printed.reply.type, 'io.snapback.checkpoint.failed');
    } finally {
      agent.behaviour = () => ({ kind: 'ok' });
    }
  });

  it('send exits NOT_FOUND (3) when a preemption notice matches no node', async () => {
    const data = JSON.stringify(awsSpotWarning('i-0fffffffffffffff0', new Date().toISOString()));
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
    assert.equal(code, 3, stdout);
    assert.match(stdout, /not handled: NOT_FOUND in resolve: no node matches/);
  });

  it('send reports a 400 with its details and exit status 2', async () => {
    const args = ['send', '--to', url, '--type', 'io.snapback.restore.requested', '--data', '{}'];
    const human = await snapback(...args);
    assert.equal(human.code, 2);
    assert.equal(human.stdout, '');
    assert.match(human.stderr, /answered 400 INVALID_ARGUMENT: .*\n {2}data\.checkpointId: /);
    const json = await snapback(...args, '--json');
    assert.equal(json.code, 2);
    assert.match(json.stdout, /data\.checkpointId/);
  });

  it('function without an agent or a cluster is a usage error', async () => {
    const { code, stderr } = await snapback('function', 'all', '--port', '0');
    assert.equal(code, 2);
    assert.match(stderr, /--agent/);
  });
});

describe('local mode without an agent', () => {
  it('answers checkpoint.failed UNAVAILABLE and logs one line saying no agent answers, no stack', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const agents = createAgentDispatcher();
    const resolver = createLocalResolver({ agent: '127.0.0.1:1', node: 'laptop', agents });
    const server = await startFunctionsServer(
      { functions, serve: 'all', resolver, agents, log },
      0,
      '127.0.0.1',
    );
    try {
      const { code, stdout } = await snapback(
        'send',
        '--to',
        `http://127.0.0.1:${server.port}/`,
        '--type',
        'io.snapback.checkpoint.requested',
        '--data',
        JSON.stringify({ namespace: 'default', pod: 'counter' }),
      );
      assert.equal(code, 8, stdout);
      assert.match(
        stdout,
        /checkpoint of default\/counter failed: UNAVAILABLE in \w+: no agent answers at 127\.0\.0\.1:1 /,
      );
      const said = lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((e) => /no agent answers/.test(String(e['msg'])));
      assert.equal(said.length, 1, lines.join(''));
      assert.equal(said[0]!['level'], 40);
      assert.equal(said[0]!['err'], undefined, 'no error object, so no stack');
      assert.doesNotMatch(lines.join(''), /"stack"/);
    } finally {
      await server.close();
    }
  });
});
