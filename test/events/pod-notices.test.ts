/**
 * Pod-level notices: a Pod update (ApiServerSource, Resource mode) carrying DisruptionTarget=True, with each
 * reason Kubernetes documents; a Kubernetes Event of reason Preempted in both API shapes. Updates without
 * the condition and Events of other reasons are ignored without reading further; hostile pod objects are
 * ignored or refused naming the field, never a crash. The fixtures pass the Kubernetes schemas.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloudEvent } from 'cloudevents';
import fc from 'fast-check';
import { Event as EventV1 } from 'kubernetes-models/events.k8s.io/v1/Event';
import { Event } from 'kubernetes-models/v1/Event';
import { Pod } from 'kubernetes-models/v1/Pod';
import { SnapbackError } from '../../src/errors.js';
import {
  isIgnored,
  isPreemptionNotice,
  NoticeFormat,
  type PodNotice,
  type PodNoticeResult,
  parsePodNotice,
  Urgency,
} from '../../src/events/notices/index.js';
import { DisruptionReason } from '../../src/events/notices/pod-disruption.js';
import { fixture, type Json } from '../helpers/cloud-fixtures.js';
import { fcOptions } from '../helpers/hostile.js';

const UPDATE = 'dev.knative.apiserver.resource.update';
const ADD = 'dev.knative.apiserver.resource.add';
const ce = (type: string, data: unknown) =>
  new CloudEvent<unknown>(
    { specversion: '1.0', id: 'e-1', source: 'https://10.96.0.1:443', type, data },
    false,
  );
const parse = (data: unknown, type = UPDATE) => parsePodNotice(ce(type, data));

function acted(result: PodNoticeResult | undefined): PodNotice {
  assert.ok(result !== undefined, 'a pod-level format');
  assert.ok(!isIgnored(result), `ignored: ${'ignored' in result ? result.ignored : ''}`);
  return result;
}

function refusedFields(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SnapbackError, String(err));
    assert.equal(err.code, 'INVALID_ARGUMENT');
    return err.details.map((d) => d.field);
  }
  assert.fail('expected INVALID_ARGUMENT');
}

/** The fixture pod with its DisruptionTarget condition (last) given a reason. */
function disrupted(reason: string): Json {
  const pod = fixture('kubernetes/pod-disruption-target.json');
  pod['status'].conditions.at(-1).reason = reason;
  return pod;
}

describe('pod-level notices', () => {
  it('the fixtures are valid Kubernetes objects', () => {
    new Pod(fixture('kubernetes/pod-disruption-target.json') as never).validate();
    new Event(fixture('kubernetes/event-preempted-core-v1.json') as never).validate();
    new EventV1(fixture('kubernetes/event-preempted-events-v1.json') as never).validate();
  });

  for (const reason of Object.values(DisruptionReason)) {
    it(`DisruptionTarget=True (${reason}): that pod, by uid, imminent; deadline from its grace period`, () => {
      const notice = acted(parse(disrupted(reason)));
      assert.equal(notice.format, NoticeFormat.POD_DISRUPTION);
      assert.equal(notice.urgency, Urgency.IMMINENT);
      assert.deepEqual(notice.pod, {
        namespace: 'ml',
        pod: 'trainer-0',
        uid: '0f9c5b2e-6d1a-4c3e-9b7f-2a4d8e6c1b30',
      });
      assert.equal(notice.since?.toISOString(), '2026-11-28T12:00:00.000Z');
      assert.equal(notice.gracePeriodSeconds, 30);
      assert.equal(notice.deadline, undefined, 'not deleted yet: the functions add the grace period');
      assert.match(notice.reason, new RegExp(reason));
    });
  }

  it('a pod already being deleted: the deadline is its deletionTimestamp; add events count too', () => {
    const pod = disrupted(DisruptionReason.EVICTION_BY_EVICTION_API);
    pod['metadata'].deletionTimestamp = '2026-11-28T12:00:30Z';
    pod['metadata'].deletionGracePeriodSeconds = 30;
    assert.equal(acted(parse(pod, ADD)).deadline?.toISOString(), '2026-11-28T12:00:30.000Z');
  });

  it('updates without the condition, with it False, or of pods that did not opt in are ignored', () => {
    const plain = fixture('kubernetes/pod-disruption-target.json');
    plain['status'].conditions.pop();
    const off = disrupted('PreemptionByScheduler');
    off['status'].conditions.at(-1).status = 'False';
    const notOptedIn = disrupted('PreemptionByScheduler');
    delete notOptedIn['metadata'].labels['snapback.io/enabled'];
    for (const pod of [
      plain,
      off,
      notOptedIn,
      { kind: 'Pod' },
      { kind: 'Pod', status: { conditions: 'x' } },
    ]) {
      const result = parse(pod);
      assert.ok(result !== undefined && isIgnored(result), JSON.stringify(result));
    }
    assert.ok(isPreemptionNotice(ce(UPDATE, plain)), 'routed to the preemption function');
  });

  it('a disrupted pod missing what snapback reads is refused naming each field', () => {
    const pod = disrupted('PreemptionByScheduler');
    delete pod['metadata'].name;
    pod['metadata'].uid = '';
    pod['metadata'].deletionTimestamp = 'in a bit';
    pod['spec'].terminationGracePeriodSeconds = -1;
    assert.deepEqual(refusedFields(() => parse(pod)).sort(), [
      'data.metadata.deletionTimestamp',
      'data.metadata.name',
      'data.metadata.uid',
      'data.spec.terminationGracePeriodSeconds',
    ]);
    const badCondition = disrupted('PreemptionByScheduler');
    badCondition['status'].conditions.at(-1).lastTransitionTime = 'yesterday';
    assert.deepEqual(
      refusedFields(() => parse(badCondition)),
      ['data.status.conditions[5].lastTransitionTime'],
    );
  });

  it('huge lists: the condition is found or not without reading anything else', () => {
    const pod = fixture('kubernetes/pod-disruption-target.json');
    pod['status'].conditions = [
      ...Array.from({ length: 100_000 }, (_, i) => ({ type: `example.com/c${i}`, status: 'True' })),
      null,
      7,
      [],
    ];
    pod['spec'].containers = Array.from({ length: 10_000 }, (_, i) => ({ name: `c${i}` }));
    assert.ok(isIgnored(parse(pod)!));
    pod['status'].conditions.push({ type: 'DisruptionTarget', status: 'True' });
    assert.equal(acted(parse(pod)).pod.pod, 'trainer-0');
  });

  it('hostile pod objects: ignored or refused naming a field, never another error', () => {
    const anyJson = fc.jsonValue({ maxDepth: 3 });
    const hostilePod = fc.record(
      {
        kind: fc.constant('Pod'),
        metadata: fc.oneof(
          anyJson,
          fc.record({ name: anyJson, namespace: anyJson, uid: anyJson, labels: anyJson }),
        ),
        spec: anyJson,
        status: fc.oneof(
          anyJson,
          fc.record({
            conditions: fc.array(
              fc.oneof(
                anyJson,
                fc.record({
                  type: fc.constant('DisruptionTarget'),
                  status: fc.constant('True'),
                  lastTransitionTime: anyJson,
                }),
              ),
            ),
          }),
        ),
      },
      { requiredKeys: ['kind'] },
    );
    fc.assert(
      fc.property(hostilePod, (pod) => {
        try {
          parse(pod);
        } catch (err) {
          assert.ok(err instanceof SnapbackError && err.code === 'INVALID_ARGUMENT', String(err));
          assert.ok(err.details.length > 0 && err.details.every((d) => d.field.startsWith('data.')));
        }
      }),
      fcOptions(300),
    );
  });

  it('a Preempted Event, in the core/v1 and the events.k8s.io/v1 shapes', () => {
    for (const name of [
      'kubernetes/event-preempted-core-v1.json',
      'kubernetes/event-preempted-events-v1.json',
    ]) {
      const notice = acted(parse(fixture(name), ADD));
      assert.equal(notice.format, NoticeFormat.POD_PREEMPTED_EVENT);
      assert.deepEqual(notice.pod, {
        namespace: 'ml',
        pod: 'trainer-0',
        uid: '0f9c5b2e-6d1a-4c3e-9b7f-2a4d8e6c1b30',
      });
      assert.equal(notice.since?.toISOString(), '2026-11-28T12:00:00.000Z');
      assert.equal(notice.deadline, undefined, 'an Event does not say when the pod is killed');
      assert.match(notice.reason, /Preempted by pod/);
    }
  });

  it('Events of other reasons, or about other kinds, are ignored; a Preempted pod reference without a name is refused', () => {
    const scheduled = fixture('kubernetes/event-preempted-core-v1.json');
    scheduled['reason'] = 'Scheduled';
    assert.ok(isIgnored(parse(scheduled, ADD)!));
    const aboutNode = fixture('kubernetes/event-preempted-core-v1.json');
    aboutNode['involvedObject'].kind = 'Node';
    assert.ok(isIgnored(parse(aboutNode)!));
    const nameless = fixture('kubernetes/event-preempted-events-v1.json');
    delete nameless['regarding'].name;
    assert.deepEqual(
      refusedFields(() => parse(nameless)),
      ['data.regarding.name'],
    );
  });
});
