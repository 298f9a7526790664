/**
 * Reading the restore source's Pod updates: what asks for nothing is found before anything is validated
 * (decided, being restored, deleted: settled; not scheduled or not started: not yet), a claim older than
 * the TTL is taken over, the label's value is `latest` or a checkpoint id, and hostile pods are ignored or
 * refused naming a field — never another error.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SnapbackError } from '../../src/errors.js';
import { claimOf, parseReplacementPod, type ReplacementPodResult } from '../../src/events/replacement-pod.js';
import { fcOptions } from '../helpers/hostile.js';
import { replica } from '../helpers/replacement-pods.js';

const TTL = 15 * 60_000;
const now = new Date('2026-12-01T12:00:00Z');
const json = (v: unknown) => JSON.parse(JSON.stringify(v)) as Record<string, Record<string, unknown>>;
const parse = (pod: unknown) => parseReplacementPod(pod, now, TTL);
const ignored = (r: ReplacementPodResult) =>
  'ignored' in r ? `${r.settled ? 'settled' : 'not yet'}: ${r.ignored}` : 'acted';

describe('the restore source Pod updates', () => {
  it('what asks for nothing: decided, claimed, deleted (settled); unscheduled, not started (not yet)', () => {
    const withStatus = (status: string) =>
      replica('p', 'node-b', { annotations: { 'snapback.io/restore-status': status } });
    assert.equal(ignored(parse(withStatus('restored ckpt-1'))), 'settled: decided: restored ckpt-1');
    const young = claimOf(new Date(now.getTime() - 60_000));
    assert.equal(ignored(parse(withStatus(young))), `settled: being restored (${young})`);
    const old = claimOf(new Date(now.getTime() - TTL - 1));
    const stale = parse(withStatus(old));
    assert.ok('pod' in stale && stale.pod.staleClaim === old, 'an old claim is taken over');
    const ready = json(replica('p', 'node-b'));
    ready['status']!['conditions'] = [{ type: 'snapback.io/restored', status: 'True' }];
    assert.equal(ignored(parse(ready)), 'settled: decided: snapback.io/restored is True');
    const deleting = json(replica('p', 'node-b'));
    deleting['metadata']!['deletionTimestamp'] = now.toISOString();
    assert.equal(ignored(parse(deleting)), 'settled: being deleted');
    assert.equal(ignored(parse(json(replica('p', '')))), 'not yet: pod ml/p is not scheduled yet');
    assert.equal(
      ignored(parse(json(replica('p', 'node-b', { running: false })))),
      'not yet: pod ml/p: container main has not started',
    );
    const acted = parse(json(replica('p', 'node-b', { from: 'ckpt-7', restarts: 2 })));
    assert.ok('pod' in acted);
    assert.deepEqual(
      {
        from: acted.pod.from,
        restarts: acted.pod.restarts,
        node: acted.pod.node,
        container: acted.pod.container,
      },
      { from: 'ckpt-7', restarts: 2, node: 'node-b', container: 'main' },
    );
  });

  it('a label naming no checkpoint, or an annotation naming no container, is a problem said at once', () => {
    const bad = parse(json(replica('p', 'node-b', { from: 'tmp', running: false })));
    assert.ok('pod' in bad);
    assert.match(
      bad.pod.problem ?? '',
      /label snapback\.io\/restore: "tmp" is neither latest nor a checkpoint id/,
    );
    const noContainer = parse(
      json(replica('p', 'node-b', { annotations: { 'snapback.io/container': 'sidecar' } })),
    );
    assert.ok('pod' in noContainer);
    assert.equal(noContainer.pod.container, '');
    assert.match(noContainer.pod.problem ?? '', /names no container of the pod \(sidecar\)/);
  });

  it('hostile pod objects: ignored or refused naming a field, never another error', () => {
    const anyJson = fc.jsonValue({ maxDepth: 3 });
    const hostile = fc.record(
      {
        kind: fc.constant('Pod'),
        metadata: fc.oneof(
          anyJson,
          fc.record({
            name: anyJson,
            namespace: anyJson,
            uid: anyJson,
            labels: fc.oneof(anyJson, fc.constant({ 'snapback.io/restore': 'latest' })),
            annotations: anyJson,
            ownerReferences: anyJson,
          }),
        ),
        spec: fc.oneof(anyJson, fc.record({ nodeName: anyJson, containers: anyJson })),
        status: fc.oneof(anyJson, fc.record({ containerStatuses: anyJson, conditions: anyJson })),
      },
      { requiredKeys: ['kind'] },
    );
    fc.assert(
      fc.property(hostile, (pod) => {
        try {
          parse(pod);
        } catch (err) {
          assert.ok(err instanceof SnapbackError && err.code === 'INVALID_ARGUMENT', String(err));
          assert.ok(err.details.length > 0 && err.details.every((d) => d.field.startsWith('data')));
        }
      }),
      fcOptions(300),
    );
  });
});
