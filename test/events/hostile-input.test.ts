/**
 * Hostile events against the real functions app on loopback (property-based, fast-check, seeded): broken
 * envelopes in binary, structured and batch mode, the official CloudEvents invalid vectors turned into
 * snapback events, hostile data (ids, names, deadlines, types), random JSON and random bytes. Every one is
 * answered 4xx with a JSON body naming the problem; nothing reaches the agent; the process stays up.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { EventType } from '../../src/events/types.js';
import { fcOptions, hostileId } from '../helpers/hostile.js';
import {
  assertNamedRefusal,
  type HostileEnv,
  inboundTypes,
  startHostileEnv,
  toBinary,
  validData,
  validEvent,
} from '../helpers/hostile-functions.js';

const vectors = fileURLToPath(new URL('../fixtures/conformance/cloudevents-json/', import.meta.url));
const load = (name: string) =>
  (
    JSON.parse(readFileSync(`${vectors}${name}.json`, 'utf8')) as {
      tests: Array<{ id: string; event?: Record<string, unknown>; batch?: unknown[] }>;
    }
  ).tests;

/** A conformance vector made a snapback event, keeping its flaw: a test type becomes ours, data is added. */
function snapbackified(event: unknown): unknown {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return event;
  const copy: Record<string, unknown> = { ...event };
  if (copy['type'] === 'io.cloudevents.test') copy['type'] = EventType.CHECKPOINT_REQUESTED;
  if (!('data' in copy) && !('data_base64' in copy)) copy['data'] = validData(EventType.CHECKPOINT_REQUESTED);
  return copy;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const STRUCTURED = { 'content-type': 'application/cloudevents+json' };
const BATCH = { 'content-type': 'application/cloudevents-batch+json' };

/** One field of one type's data made invalid, and the field the answer must name. */
const badData = fc.oneof(
  fc.record({
    type: fc.constantFrom(EventType.CHECKPOINT_REQUESTED, EventType.RESTORE_REQUESTED),
    field: fc.constantFrom('namespace', 'checkpointId', 'container'),
    value: hostileId().filter((s) => !DNS1123_LABEL.test(s)) as fc.Arbitrary<unknown>,
  }),
  fc.record({
    type: fc.constantFrom(EventType.CHECKPOINT_REQUESTED, EventType.RESTORE_REQUESTED),
    field: fc.constant('pod'),
    value: hostileId().filter((s) => !DNS1123_SUBDOMAIN.test(s)) as fc.Arbitrary<unknown>,
  }),
  fc.record({
    type: fc.constantFrom(EventType.CHECKPOINT_REQUESTED, EventType.PREEMPTION_NOTICED),
    field: fc.constant('deadline'),
    value: fc.oneof(fc.string(), fc.integer(), fc.constant(null)).filter((v) => !RFC3339.test(String(v))),
  }),
  fc.record({
    type: fc.constant(EventType.CHECKPOINT_REQUESTED),
    field: fc.constant('leaveRunning'),
    value: fc.jsonValue().filter((v) => typeof v !== 'boolean'),
  }),
  fc.record({
    type: fc.constantFrom(...inboundTypes),
    field: fc
      .stringMatching(/^[a-z][a-zA-Z]{0,12}$/)
      .filter((k) => !(k in validData(EventType.CHECKPOINT_REQUESTED))),
    value: fc.jsonValue(),
  }),
);

/** One envelope attribute broken in binary mode, and the header the answer must name. */
const badHeader = fc.oneof(
  fc.constantFrom('id', 'source', 'type', 'specversion').map((drop) => ({ drop, header: `ce-${drop}` })),
  fc
    .string({ unit: 'grapheme-ascii', maxLength: 6 })
    .filter((v) => v !== '1.0')
    .map((v) => ({ set: ['specversion', v], header: 'ce-specversion' })),
  fc
    .constantFrom('garbage', '2018-04-05T17:31', '2018-04-05T17:31:00X', '2018-04-05T17:31:00+25:00')
    .map((v) => ({ set: ['time', v], header: 'ce-time' })),
  fc
    .stringMatching(/^[a-z0-9]{0,4}[!#$&'*+.^_`|~-][a-z0-9]{0,4}$/)
    .map((name) => ({ set: [name, 'x'], header: `ce-${name}` })),
  fc.constantFrom('%zz', '%', 'abc%e2%82').map((v) => ({ set: ['id', v], header: 'ce-id', raw: true })),
  fc.constantFrom('', 'not a uri').map((v) => ({ set: ['dataschema', v], header: 'ce-dataschema' })),
);

describe('hostile events against the functions (property-based, loopback)', () => {
  let env: HostileEnv;
  const crashes: unknown[] = [];
  const onCrash = (err: unknown) => crashes.push(err);
  before(async () => {
    process.on('uncaughtException', onCrash).on('unhandledRejection', onCrash);
    env = await startHostileEnv();
  });
  after(async () => {
    process.off('uncaughtException', onCrash).off('unhandledRejection', onCrash);
    await env.close();
  });

  const refusedUndispatched = async (headers: Record<string, string>, body: string | Uint8Array) => {
    const before = env.dispatched();
    const details = assertNamedRefusal(await env.post(headers, body));
    assert.equal(env.dispatched(), before, 'an invalid request was dispatched');
    return details;
  };

  it('a valid event is dispatched (the harness can see a dispatch)', async () => {
    const { headers, body } = toBinary(validEvent());
    const reply = await env.post(headers, body);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(env.agent.checkpoints.length, 1);
  });

  it('binary mode: a missing, malformed or misnamed attribute is named by its header', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...inboundTypes), badHeader, async (type, bad) => {
        const { headers, body } = toBinary(validEvent(type));
        if ('drop' in bad) delete headers[bad.header];
        else headers[`ce-${bad.set[0]}`] = 'raw' in bad ? bad.set[1]! : encodeURIComponent(bad.set[1]!);
        const details = await refusedUndispatched(headers, body);
        assert.ok(
          details.some((d) => d.field === bad.header),
          JSON.stringify(details),
        );
      }),
      fcOptions(150),
    );
  });

  it('hostile data (ids, names, deadlines, types, unknown fields) is named by its field, in both modes', async () => {
    await fc.assert(
      fc.asyncProperty(badData, fc.boolean(), async (bad, binary) => {
        const event = validEvent(bad.type);
        event['data'] = { ...(event['data'] as object), [bad.field]: bad.value };
        const { headers, body } = binary
          ? toBinary(event)
          : { headers: STRUCTURED, body: JSON.stringify(event) };
        const details = await refusedUndispatched(headers, body);
        const named = details.map((d) => d.field);
        assert.ok(
          named.some((f) => f === `data.${bad.field}` || f === 'data'),
          JSON.stringify(details),
        );
      }),
      fcOptions(200),
    );
  });

  it('every CloudEvents invalid-format vector, made a snapback event, is refused (structured)', async () => {
    for (const t of load('invalid-events')) {
      const details = await refusedUndispatched(STRUCTURED, JSON.stringify(snapbackified(t.event)));
      assert.ok(
        !details.some((d) => /not an event type handled/.test(d.message)),
        `${t.id}: ${JSON.stringify(details)}`,
      );
    }
  });

  it('a batch with one invalid event (vectors, mixed specversion) dispatches nothing and names it', async () => {
    const invalid = fc.oneof(
      fc.constantFrom(...load('invalid-events').map((t) => snapbackified(t.event))),
      fc.constantFrom(
        ...load('invalid-batches')
          .flatMap((t) => t.batch!)
          .filter(
            (e) =>
              typeof e !== 'object' ||
              (e as Record<string, unknown>)['specversion'] !== '1.0' ||
              !('id' in (e as object)),
          )
          .map(snapbackified),
      ),
      fc.constantFrom('0.3', '0.9', '1', '1.0.0', '').map((v) => ({ ...validEvent(), specversion: v })),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...inboundTypes), { maxLength: 4 }),
        invalid,
        fc.nat(),
        async (types, bad, at) => {
          const batch: unknown[] = types.map((t) => validEvent(t));
          const index = at % (batch.length + 1);
          batch.splice(index, 0, bad);
          const details = await refusedUndispatched(BATCH, JSON.stringify(batch));
          assert.ok(
            details.some((d) => d.field.startsWith(`events[${index}]`)),
            JSON.stringify(details),
          );
        },
      ),
      fcOptions(120),
    );
    for (const t of load('invalid-batches'))
      await refusedUndispatched(BATCH, JSON.stringify(t.batch!.map(snapbackified)));
  });

  it('random JSON and random bytes, in every mode, are refused (an empty batch is answered 204)', async () => {
    const modes = fc.constantFrom<Record<string, string>>(STRUCTURED, BATCH, {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'r',
      'ce-source': '/r',
      'ce-type': EventType.CHECKPOINT_REQUESTED,
    });
    const bodies = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
      fc.uint8Array({ maxLength: 512 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
    );
    await fc.assert(
      fc.asyncProperty(modes, bodies, async (headers, body) => {
        const before = env.dispatched();
        const reply = await env.post(headers, body);
        if (reply.status === 204) assert.equal(String(body).trim(), '[]');
        else assertNamedRefusal(reply);
        assert.equal(env.dispatched(), before);
      }),
      fcOptions(200),
    );
  });

  it('content types it does not read: 415 naming content-type; an oversized body: 413', async () => {
    for (const type of ['text/plain', 'application/cloudevents+avro', 'application/xml', 'image/png']) {
      const details = await refusedUndispatched({ 'content-type': type }, '{}');
      assert.equal(details[0]!.field, 'content-type');
    }
    const big = JSON.stringify({ ...validEvent(), pad: 'x'.repeat(70 * 1024) });
    const details = await refusedUndispatched(STRUCTURED, big);
    assert.equal(details[0]!.field, '(body)');
  });

  it('afterwards the process is up, nothing crashed, and valid events still flow', async () => {
    assert.deepEqual(crashes, []);
    const before = env.agent.checkpoints.length;
    const reply = await env.post(STRUCTURED, JSON.stringify(validEvent()));
    assert.equal(reply.status, 200);
    assert.equal(env.agent.checkpoints.length, before + 1);
    assert.equal(env.dispatched(), 2, 'only the two valid events were ever dispatched');
  });
});
