/**
 * mTLS between clients and the real agent (the CLI, configured through SNAPBACK_TLS_*), with certificates
 * made by the test: a client without a certificate, with one from another CA, or without TLS at all is
 * refused; a client with a certificate from the agent's client CA lists checkpoints — through the CLI
 * (`snapback list --tls-…`) and through the functions' agent client (`snapback function`'s path).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { connectAgent } from '../../src/agent/client.js';
import { agentChannelCredentials } from '../../src/cli/tls.js';
import { createAgentDispatcher } from '../../src/dispatch/agent-dispatcher.js';
import { SnapbackError } from '../../src/errors.js';
import { type AgentProcess, startAgent } from '../helpers/agent-process.js';
import { type Certs, makeCerts } from '../helpers/certs.js';
import { type CliRun, runCli } from '../helpers/snapback-cli.js';

function snapback(...args: string[]): Promise<CliRun> {
  return runCli(args, { LOG_LEVEL: 'silent' });
}

describe('agent mTLS (certificates made by the test)', () => {
  let certs: Certs;
  let agent: AgentProcess;
  const list = (credentials: grpc.ChannelCredentials) => {
    const client = connectAgent(agent.address, credentials);
    return client
      .listCheckpoints({}, { deadline: new Date(Date.now() + 5_000) })
      .finally(() => client.close());
  };
  const refused = async (credentials: grpc.ChannelCredentials) => {
    await assert.rejects(list(credentials), (err: unknown) => {
      assert.ok(err instanceof SnapbackError, String(err));
      assert.equal(err.code, 'UNAVAILABLE', err.message);
      return true;
    });
  };

  before(async () => {
    certs = await makeCerts();
    agent = await startAgent({
      env: {
        SNAPBACK_TLS_CERT: certs.serverCert,
        SNAPBACK_TLS_KEY: certs.serverKey,
        SNAPBACK_TLS_CLIENT_CA: certs.ca,
      },
    });
  });
  after(async () => {
    await agent?.stop();
    await agent?.cleanup();
    await certs?.cleanup();
  });

  it('says it serves mTLS', () => {
    assert.match(agent.logs(), /"mtls":true/);
  });

  it('refuses a plaintext client, a TLS client without a certificate, and one from another CA', async () => {
    await refused(grpc.credentials.createInsecure());
    await refused(agentChannelCredentials({ tlsCa: certs.ca }));
    await refused(
      agentChannelCredentials({ tlsCa: certs.ca, tlsCert: certs.strangerCert, tlsKey: certs.strangerKey }),
    );
  });

  it('serves a client whose certificate chains to its client CA', async () => {
    const { checkpoints } = await list(
      agentChannelCredentials({ tlsCa: certs.ca, tlsCert: certs.clientCert, tlsKey: certs.clientKey }),
    );
    assert.deepEqual(checkpoints, []);
  });

  it('the CLI lists over mTLS with --tls-ca/--tls-cert/--tls-key, and fails without them', async () => {
    const ok = await snapback(
      'list',
      '--agent',
      agent.address,
      '--json',
      '--timeout',
      '5',
      '--tls-ca',
      certs.ca,
      '--tls-cert',
      certs.clientCert,
      '--tls-key',
      certs.clientKey,
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout), { checkpoints: [] });
    const plain = await snapback('list', '--agent', agent.address, '--json', '--timeout', '2');
    assert.notEqual(plain.code, 0);
    const stranger = await snapback(
      'list',
      '--agent',
      agent.address,
      '--timeout',
      '2',
      '--tls-ca',
      certs.ca,
      '--tls-cert',
      certs.strangerCert,
      '--tls-key',
      certs.strangerKey,
    );
    assert.notEqual(stranger.code, 0);
  });

  it("the functions' agent client (snapback function) presents its certificate", async () => {
    const client = createAgentDispatcher({
      credentials: agentChannelCredentials({
        tlsCa: certs.ca,
        tlsCert: certs.clientCert,
        tlsKey: certs.clientKey,
      }),
    });
    try {
      assert.deepEqual(
        await client.listWorkloads(agent.address, { deadline: new Date(Date.now() + 5_000) }),
        [],
      );
    } finally {
      client.close();
    }
  });

  it('half a TLS configuration is a usage error naming what is missing (agent and client)', async () => {
    const agentHalf = await snapback('agent', '--listen', '127.0.0.1:0', '--tls-cert', certs.serverCert);
    assert.equal(agentHalf.code, 2);
    assert.match(agentHalf.stderr, /--tls-key/);
    assert.match(agentHalf.stderr, /--tls-client-ca/);
    const clientHalf = await snapback('list', '--agent', agent.address, '--tls-cert', certs.clientCert);
    assert.equal(clientHalf.code, 2);
    assert.match(clientHalf.stderr, /--tls-key/);
    const missing = await snapback('list', '--agent', agent.address, '--tls-ca', '/nonexistent/ca.pem');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--tls-ca: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/);
  });
});
