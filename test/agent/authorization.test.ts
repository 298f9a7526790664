/**
 * Authorisation and hostile ids through the real agent (the CLI, process runtime) over gRPC: targets
 * outside the allowed namespaces are refused FAILED_PRECONDITION naming the rule; a target this agent
 * does not run (not on its node) is NOT_FOUND; hostile checkpoint ids and names (property-based) are
 * INVALID_ARGUMENT naming the field, for every call, and never reach storage.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { SnapbackError } from '../../src/errors.js';
import { type AgentProcess, python, startAgent, workloadScript } from '../helpers/agent-process.js';
import { fcOptions, hostileId } from '../helpers/hostile.js';
import { readNumber, waitFor } from '../helpers/proc.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

async function refusal(promise: Promise<unknown>): Promise<SnapbackError> {
  const err = await promise.then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SnapbackError, String(err));
  return err;
}

describe('agent authorisation and hostile ids (real agent, gRPC)', () => {
  let agent: AgentProcess;
  before(async () => {
    agent = await startAgent({ args: ['--allowed-namespaces', 'default', '--allowed-namespaces', 'team-a'] });
    const out = join(agent.dir, 'auth-w.counter');
    await agent.client.startWorkload({
      name: 'auth-w',
      command: [python, workloadScript, '4', out],
    });
    await waitFor('auth-w to count', async () => ((await readNumber(out)) ?? 0) > 1, 30_000);
  });
  after(async () => {
    await agent.client.stopWorkload({ name: 'auth-w' }).catch(() => {});
    await agent.stop();
    await agent.cleanup();
  });

  it('refuses a checkpoint or restore outside the allowed namespaces, naming the rule', async () => {
    const target = { namespace: 'team-b', pod: 'auth-w' };
    for (const call of [
      agent.client.checkpoint({ target, checkpointId: 'auth-b' }),
      agent.client.restore({ checkpointId: 'auth-b', target }),
    ]) {
      const err = await refusal(call);
      assert.equal(err.code, 'FAILED_PRECONDITION');
      assert.match(
        err.message,
        /namespace team-b is not one this agent may act on \(allowed: default, team-a\)/,
      );
      assert.match(err.message, /rule: allowed-namespaces/);
    }
    assert.deepEqual(
      (await readdir(agent.storage)).filter((e) => e !== 'tmp'),
      [],
    );
  });

  it('acts in an allowed namespace (the same workload, namespace team-a)', async () => {
    const result = await agent.client.checkpoint({
      target: { namespace: 'team-a', pod: 'auth-w' },
      checkpointId: 'auth-a',
    });
    assert.equal(result.checkpointId, 'auth-a');
  });

  it('a target this agent does not run (not on its node) is NOT_FOUND, nothing is dumped', async () => {
    for (const pod of ['init', 'kube-proxy', 'other-node-workload']) {
      const err = await refusal(agent.client.checkpoint({ target: { pod }, checkpointId: `nf-${pod}` }));
      assert.equal(err.code, 'NOT_FOUND', err.message);
      assert.match(err.message, new RegExp(`no workload named ${pod} on this agent`));
    }
  });

  it('hostile checkpoint ids are INVALID_ARGUMENT naming checkpointId, on every call', async () => {
    await fc.assert(
      fc.asyncProperty(
        hostileId().filter((id) => id !== '' && !DNS1123_LABEL.test(id)),
        async (id) => {
          const calls = [
            agent.client.checkpoint({ target: { pod: 'auth-w' }, checkpointId: id }),
            agent.client.restore({ checkpointId: id }),
            agent.client.getCheckpoint({ checkpointId: id }),
            agent.client.deleteCheckpoint({ checkpointId: id }),
          ];
          for (const call of calls) {
            const err = await refusal(call);
            assert.equal(err.code, 'INVALID_ARGUMENT', `${JSON.stringify(id)}: ${err.message}`);
            assert.match(err.message, /checkpointId/);
          }
        },
      ),
      fcOptions(60),
    );
    // Only the one allowed checkpoint ever reached storage.
    assert.deepEqual(
      (await readdir(agent.storage)).filter((e) => e !== 'tmp'),
      ['auth-a'],
    );
  });

  it('hostile workload names are INVALID_ARGUMENT naming the workload name, never INTERNAL', async () => {
    await fc.assert(
      fc.asyncProperty(
        hostileId().filter((name) => name !== '' && !DNS1123_LABEL.test(name)),
        async (name) => {
          const err = await refusal(
            agent.client.checkpoint({ target: { pod: name }, checkpointId: 'hostile-name' }),
          );
          assert.equal(err.code, 'INVALID_ARGUMENT', `${JSON.stringify(name)}: ${err.message}`);
          assert.match(err.message, /workload name/);
        },
      ),
      fcOptions(40),
    );
  });
});
