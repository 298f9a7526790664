/**
 * A long run of bad requests does not grow the functions' memory: thousands of refused events (bad data
 * padded to 4 KiB, broken batches, random bytes) in rounds, with the heap (plus Buffer memory) measured
 * after a full GC between rounds. The bound is generous (a leak of the bodies alone would be ~25 MiB over
 * the measured rounds) and compared against a warmed-up baseline, so JIT and caches settling do not make it flaky.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { EventType } from '../../src/events/types.js';
import { FC_SEED, hostileId } from '../helpers/hostile.js';
import { type HostileEnv, startHostileEnv, validEvent } from '../helpers/hostile-functions.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const ROUNDS = 6;
const PER_ROUND = 400;
const BOUND_BYTES = 8 * 1024 * 1024;
/** 16 KiB per request: a leak of the bodies alone would be ~25 MiB over the measured rounds. */
const PAD = 'p'.repeat(16 * 1024);

async function settledMemory(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

const badRequest = fc.oneof(
  hostileId().map((id) => {
    const event = validEvent(EventType.CHECKPOINT_REQUESTED);
    event['data'] = { namespace: 'default', pod: 'web-0', checkpointId: `${id}!`, padding: PAD };
    return { type: 'application/cloudevents+json', body: JSON.stringify(event) };
  }),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { minLength: 1, maxLength: 5 }).map((items) => ({
    type: 'application/cloudevents-batch+json',
    body: JSON.stringify([validEvent(), ...items, { ...validEvent(), specversion: '0.3', pad: PAD }]),
  })),
  fc.uint8Array({ minLength: 1, maxLength: 2048 }).map((bytes) => ({
    type: 'application/cloudevents+json',
    body: `{${Buffer.from(bytes).toString('latin1')}${PAD}`,
  })),
);

describe('functions memory under a long run of bad requests', () => {
  let env: HostileEnv;
  before(async () => {
    env = await startHostileEnv();
  });
  after(() => env.close());

  it(`${ROUNDS * PER_ROUND} refused requests leave the heap where it was (±${BOUND_BYTES >> 20} MiB)`, async () => {
    const requests = fc.sample(badRequest, { seed: FC_SEED, numRuns: PER_ROUND });
    const samples: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < requests.length; i += 8) {
        await Promise.all(
          requests.slice(i, i + 8).map(async ({ type, body }) => {
            const res = await fetch(env.url, { method: 'POST', headers: { 'content-type': type }, body });
            await res.arrayBuffer();
            assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
          }),
        );
      }
      samples.push(await settledMemory());
    }
    assert.equal(env.dispatched(), 0);
    // Round 0 warms up (JIT, ajv, connection pools); every later round is measured against round 1.
    const baseline = samples[1]!;
    const growth = Math.max(...samples.slice(2)) - baseline;
    const mib = samples.map((s) => (s / 2 ** 20).toFixed(1)).join(', ');
    assert.ok(
      growth < BOUND_BYTES,
      `memory grew by ${(growth / 2 ** 20).toFixed(1)} MiB (rounds: ${mib} MiB)`,
    );
  });
});
