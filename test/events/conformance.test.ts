/**
 * Every vector of the CloudEvents JSON-format conformance suite (a copy of the CloudEvents project's
 * format/json vectors in test/fixtures/conformance/cloudevents-json), posted to the functions over HTTP in structured and batch mode: invalid ones
 * get 400 naming what is wrong; valid envelopes parse, and are refused only because of their type.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { functions } from '../../functions/index.js';
import { createAgentDispatcher } from '../../src/dispatch/agent-dispatcher.js';
import { createLocalResolver } from '../../src/dispatch/resolver.js';
import { type FunctionsServer, startFunctionsServer } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';

const dir = fileURLToPath(new URL('../fixtures/conformance/cloudevents-json/', import.meta.url));
const load = (name: string) =>
  JSON.parse(readFileSync(`${dir}${name}.json`, 'utf8')) as {
    tests: Array<{ id: string; event?: unknown; batch?: unknown[] }>;
  };

interface ErrorReply {
  error: { code: string; message: string; details?: Array<{ field: string; message: string }> };
}

describe('CloudEvents JSON conformance vectors', () => {
  let server: FunctionsServer;
  let url: string;
  before(async () => {
    const agents = createAgentDispatcher();
    const resolver = createLocalResolver({ agent: '127.0.0.1:1', node: 'node-a' });
    server = await startFunctionsServer(
      { functions, serve: 'all', resolver, agents, log: silentLogger() },
      0,
      '127.0.0.1',
    );
    url = `http://127.0.0.1:${server.port}/`;
  });
  after(() => server.close());

  const post = async (contentType: string, body: unknown) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (res.status === 204 ? undefined : await res.json()) as ErrorReply };
  };

  for (const t of load('invalid-events').tests) {
    it(`structured ${t.id} → 400 naming the attribute`, async () => {
      const { status, body } = await post('application/cloudevents+json', t.event);
      assert.equal(status, 400);
      assert.equal(body.error.code, 'INVALID_ARGUMENT');
      assert.ok((body.error.details ?? []).length > 0, JSON.stringify(body));
      assert.ok(
        body.error.details!.every((d) => d.field !== 'type' || !/not an event type handled/.test(d.message)),
      );
    });
  }

  for (const t of load('invalid-batches').tests) {
    it(`batch ${t.id} → 400 naming the event and attribute`, async () => {
      const { status, body } = await post('application/cloudevents-batch+json', t.batch);
      assert.equal(status, 400);
      assert.ok(
        body.error.details!.every((d) => /^events\[\d+\]/.test(d.field)),
        JSON.stringify(body),
      );
      assert.ok(!body.error.details!.some((d) => /not an event type handled/.test(d.message)));
    });
  }

  for (const t of load('valid-events').tests) {
    it(`structured ${t.id} parses; refused only for its type`, async () => {
      const { status, body } = await post('application/cloudevents+json', t.event);
      assert.equal(status, 400);
      assert.deepEqual(
        body.error.details!.map((d) => d.field),
        ['type'],
      );
      assert.match(
        body.error.details![0]!.message,
        /"io\.cloudevents\.test" is not an event type handled here/,
      );
    });
  }

  for (const t of load('valid-batches').tests) {
    it(`batch ${t.id} parses; refused only for its types`, async () => {
      const { status, body } = await post('application/cloudevents-batch+json', t.batch);
      if (t.batch!.length === 0) return assert.equal(status, 204);
      assert.equal(status, 400);
      assert.deepEqual(
        body.error.details!.map((d) => d.field),
        t.batch!.map((_, i) => `events[${i}].type`),
      );
    });
  }
});
