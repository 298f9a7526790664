/** Preemption notices in every understood format, with payloads shaped like the real ones. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloudEvent } from 'cloudevents';
import { SnapbackError } from '../../src/errors.js';
import { checkpointIdOfRequest } from '../../src/events/checkpoint-id.js';
import { isIgnored, NoticeFormat, parsePreemptionNotice, Urgency } from '../../src/events/notices/index.js';
import { decodeCheckpointRequested } from '../../src/events/schemas.js';
import { checkpointIdProblem } from '../../src/ids.js';
import { awsRebalance, awsSpotWarning, azurePreempt, nodeUpdate } from '../helpers/notices.js';

const now = new Date('2026-11-28T12:00:00Z');
const ce = (type: string, data: unknown) =>
  new CloudEvent<unknown>({ specversion: '1.0', id: 'e-1', source: '/test', type, data }, false);

function invalidFields(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SnapbackError);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    return err.details.map((d) => d.field);
  }
  assert.fail('expected INVALID_ARGUMENT');
}

describe('preemption notices', () => {
  it('AWS spot interruption warning: node by instance id, deadline = time + 2 min', () => {
    const notice = parsePreemptionNotice(
      ce('com.amazon.eventbridge', awsSpotWarning('i-1234567890abcdef0', '2026-11-28T12:00:00Z')),
      now,
    );
    assert.ok(!isIgnored(notice));
    assert.equal(notice.format, NoticeFormat.AWS_SPOT_INTERRUPTION);
    assert.equal(notice.urgency, Urgency.IMMINENT);
    assert.deepEqual(notice.nodes, [{ providerIdSuffix: 'i-1234567890abcdef0' }]);
    assert.equal(notice.deadline?.toISOString(), '2026-11-28T12:02:00.000Z');
  });

  it('AWS rebalance recommendation: no deadline, early urgency', () => {
    const notice = parsePreemptionNotice(ce('aws.ec2', awsRebalance('i-0abcdef1234567890')), now);
    assert.ok(!isIgnored(notice));
    assert.equal(notice.format, NoticeFormat.AWS_REBALANCE);
    assert.equal(notice.urgency, Urgency.EARLY);
    assert.equal(notice.deadline, undefined);
  });

  it('AWS notice without an instance id names the field', () => {
    const bad = awsSpotWarning('i-1234567890abcdef0', '2026-11-28T12:00:00Z') as {
      detail: Record<string, unknown>;
    };
    delete bad.detail['instance-id'];
    assert.deepEqual(
      invalidFields(() => parsePreemptionNotice(ce('x.y', bad), now)),
      ['data.detail.instance-id'],
    );
  });

  it('Azure Preempt: VM names, deadline NotBefore; started events get 30 s; Freeze alone is ignored', () => {
    const notice = parsePreemptionNotice(
      ce('com.microsoft.scheduledevents', azurePreempt(['aks-spot-123_0'], 'Mon, 28 Nov 2026 12:00:45 GMT')),
      now,
    );
    assert.ok(!isIgnored(notice));
    assert.equal(notice.format, NoticeFormat.AZURE_PREEMPT);
    assert.deepEqual(notice.nodes, [{ vmName: 'aks-spot-123_0' }]);
    assert.equal(notice.deadline?.toISOString(), '2026-11-28T12:00:45.000Z');
    const started = parsePreemptionNotice(ce('x', azurePreempt(['vm1'], '')), now);
    assert.ok(!isIgnored(started));
    assert.equal(started.deadline?.getTime(), now.getTime() + 30_000);
    const freeze = azurePreempt(['vm1'], '') as { Events: Array<{ EventType: string }> };
    freeze.Events[0]!.EventType = 'Freeze';
    assert.ok(isIgnored(parsePreemptionNotice(ce('x', freeze), now)));
  });

  for (const [taint, deadlineMs, urgency] of [
    ['aws-node-termination-handler/spot-itn', 120_000, Urgency.IMMINENT],
    ['karpenter.sh/disrupted', undefined, Urgency.EARLY],
    [{ key: 'karpenter.sh/disruption', value: 'disrupting' }, undefined, Urgency.EARLY],
    [{ key: 'ToBeDeletedByClusterAutoscaler', value: '1795867200' }, undefined, Urgency.IMMINENT],
    ['node.kubernetes.io/out-of-service', 0, Urgency.IMMINENT],
    ['cloud.google.com/impending-node-termination', 30_000, Urgency.IMMINENT],
  ] as const) {
    it(`ApiServerSource Node update with taint ${typeof taint === 'string' ? taint : `${taint.key}=${taint.value}`}`, () => {
      const notice = parsePreemptionNotice(
        ce('dev.knative.apiserver.resource.update', nodeUpdate('node-a', [taint], now)),
        now,
      );
      assert.ok(!isIgnored(notice));
      assert.equal(notice.format, NoticeFormat.NODE_TAINT);
      assert.deepEqual(notice.nodes, [{ node: 'node-a' }]);
      assert.equal(notice.urgency, urgency);
      assert.equal(
        notice.deadline?.getTime(),
        deadlineMs === undefined ? undefined : now.getTime() + deadlineMs,
      );
    });
  }

  it('a Node update without a termination taint is recognised and ignored', () => {
    for (const taints of [
      ['node.kubernetes.io/unschedulable'],
      // A candidate for scale-down is not being deleted yet.
      [{ key: 'DeletionCandidateOfClusterAutoscaler', value: '1795867200' }],
      // The pre-v1 Karpenter key counts only with the value Karpenter gives it while disrupting.
      [{ key: 'karpenter.sh/disruption', value: 'candidate' }],
      ['karpenter.sh/disruption'],
    ]) {
      const result = parsePreemptionNotice(
        ce('dev.knative.apiserver.resource.update', nodeUpdate('node-a', taints, now)),
        now,
      );
      assert.ok(isIgnored(result), JSON.stringify(taints));
    }
  });

  it('hostile taint lists: entries that are not taints are skipped, never a crash', () => {
    const node = nodeUpdate('node-a', [], now) as { spec: { taints: unknown[] } };
    node.spec.taints = [null, 7, 'x', { key: 42 }, {}, [], { key: 'ToBeDeletedByClusterAutoscaler' }];
    const notice = parsePreemptionNotice(ce('dev.knative.apiserver.resource.update', node), now);
    assert.ok(!isIgnored(notice));
    assert.equal(notice.urgency, Urgency.IMMINENT);
    node.spec.taints = Array.from({ length: 50_000 }, (_, i) => ({ key: `example.com/t${i}` }));
    assert.ok(isIgnored(parsePreemptionNotice(ce('dev.knative.apiserver.resource.update', node), now)));
  });

  it('generic io.snapback.preemption.noticed, and its schema errors', () => {
    const notice = parsePreemptionNotice(
      ce('io.snapback.preemption.noticed', { node: 'node-a', deadline: '2026-11-28T12:01:00Z' }),
      now,
    );
    assert.ok(!isIgnored(notice));
    assert.equal(notice.deadline?.toISOString(), '2026-11-28T12:01:00.000Z');
    const fields = invalidFields(() =>
      parsePreemptionNotice(ce('io.snapback.preemption.noticed', { node: 'Node A', deadline: 'soon' }), now),
    );
    assert.deepEqual(fields.sort(), ['data.deadline', 'data.node']);
  });

  it('an unknown format is refused with the list of understood formats', () => {
    try {
      parsePreemptionNotice(ce('com.example.weather', { rain: true }), now);
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof SnapbackError);
      assert.match(err.message, /AWS EventBridge/);
      assert.match(err.message, /Azure Scheduled Events/);
      assert.match(err.message, /io\.snapback\.preemption\.noticed/);
    }
  });
});

describe('checkpoint requests', () => {
  it('names each failing field', () => {
    const fields = invalidFields(() =>
      decodeCheckpointRequested(
        ce('io.snapback.checkpoint.requested', { pod: 'Bad_Pod', checkpointId: '-x', extra: 1 }),
      ),
    );
    assert.deepEqual(fields.sort(), ['data.checkpointId', 'data.extra', 'data.namespace', 'data.pod']);
  });

  it('derives DNS-1123 checkpoint ids deterministically from the request', () => {
    const input = { source: '/s', id: 'abc', namespace: 'ml', pod: 'Trainer_0.example', container: 'main' };
    const id = checkpointIdOfRequest(input);
    assert.equal(id, checkpointIdOfRequest({ ...input }));
    assert.notEqual(id, checkpointIdOfRequest({ ...input, id: 'abd' }));
    assert.equal(checkpointIdProblem(id), undefined, id);
    // Pinned: a redelivered event must derive the id an earlier release derived.
    assert.equal(id, 'trainer-0-example-200d3b2e86');
    const long = checkpointIdOfRequest({ ...input, pod: 'x'.repeat(200) });
    assert.equal(checkpointIdProblem(long), undefined, long);
    assert.equal(long.length, 63);
    assert.equal(checkpointIdOfRequest({ ...input, pod: '---' }), 'ckpt-75307464b8');
  });
});
