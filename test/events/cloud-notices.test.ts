/**
 * Every cloud format from its provider's documented sample (test/fixtures/notices): the nodes it names,
 * its deadline and urgency, what is recognised and ignored, and malformed copies named by their field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloudEvent } from 'cloudevents';
import { SnapbackError } from '../../src/errors.js';
import { eventOfRawEventBridge } from '../../src/events/eventbridge.js';
import {
  isIgnored,
  isPreemptionNotice,
  NoticeFormat,
  type NoticeResult,
  type PreemptionNotice,
  parsePreemptionNotice,
  Urgency,
} from '../../src/events/notices/index.js';
import { aimedAt, fixture, type Json, SampleId } from '../helpers/cloud-fixtures.js';

const now = new Date('2026-03-02T10:00:05Z');
const ce = (type: string, data: unknown) =>
  new CloudEvent<unknown>({ specversion: '1.0', id: 'e-1', source: '/test', type, data }, false);
const SQS = 'dev.knative.eventing.aws-sqs';
const AUDIT = 'google.cloud.audit.log.v1.written';

function acted(result: NoticeResult): PreemptionNotice {
  assert.ok(!isIgnored(result), `ignored: ${'ignored' in result ? result.ignored : ''}`);
  return result;
}

function invalidFields(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SnapbackError, String(err));
    assert.equal(err.code, 'INVALID_ARGUMENT');
    return err.details.map((d) => d.field);
  }
  assert.fail('expected INVALID_ARGUMENT');
}

const auditData = (): Json => fixture('gcp/eventarc-audit-log-instances-preempted.json')['data'];

describe('AWS EventBridge formats (documented samples)', () => {
  it('instance state change: stopping and shutting-down are imminent; other states are ignored', () => {
    for (const state of ['stopping', 'shutting-down']) {
      const event = fixture('aws/eventbridge-instance-state-change.json');
      event['detail']['state'] = state;
      const notice = acted(parsePreemptionNotice(ce(SQS, event), now));
      assert.equal(notice.format, NoticeFormat.AWS_STATE_CHANGE);
      assert.equal(notice.urgency, Urgency.IMMINENT);
      assert.deepEqual(notice.nodes, [{ providerIdSuffix: SampleId.AWS_INSTANCE }]);
      assert.equal(notice.deadline?.toISOString(), '2026-03-02T10:00:30.000Z');
    }
    for (const state of ['pending', 'running', 'stopped', 'terminated']) {
      const event = fixture('aws/eventbridge-instance-state-change.json');
      event['detail']['state'] = state;
      assert.ok(isIgnored(parsePreemptionNotice(ce(SQS, event), now)), state);
    }
    const bad = fixture('aws/eventbridge-instance-state-change.json');
    delete bad['detail']['state'];
    assert.deepEqual(
      invalidFields(() => parsePreemptionNotice(ce(SQS, bad), now)),
      ['data.detail.state'],
    );
  });

  it('AWS Health scheduled change for EC2: early, deadline = startTime, every named instance', () => {
    const event = fixture('aws/eventbridge-health-scheduled-change.json');
    event['detail']['affectedEntities'].push({ entityValue: 'i-0bbbbbbbbbbbbbbbb' });
    const notice = acted(parsePreemptionNotice(ce(SQS, event), now));
    assert.equal(notice.format, NoticeFormat.AWS_HEALTH_SCHEDULED_CHANGE);
    assert.equal(notice.urgency, Urgency.EARLY);
    assert.equal(notice.deadline?.toISOString(), '2026-03-06T10:00:00.000Z');
    assert.deepEqual(notice.nodes, [
      { providerIdSuffix: SampleId.AWS_INSTANCE },
      { providerIdSuffix: 'i-0bbbbbbbbbbbbbbbb' },
    ]);
  });

  it('AWS Health: other services and categories are recognised and ignored; malformed names the field', () => {
    const other = fixture('aws/eventbridge-health-scheduled-change.json');
    other['detail']['service'] = 'RDS';
    assert.ok(isIgnored(parsePreemptionNotice(ce(SQS, other), now)));
    const issue = fixture('aws/eventbridge-health-scheduled-change.json');
    issue['detail']['eventTypeCategory'] = 'issue';
    assert.ok(isIgnored(parsePreemptionNotice(ce(SQS, issue), now)));
    const bad = fixture('aws/eventbridge-health-scheduled-change.json');
    delete bad['detail']['eventTypeCategory'];
    assert.deepEqual(
      invalidFields(() => parsePreemptionNotice(ce(SQS, bad), now)),
      ['data.detail.eventTypeCategory'],
    );
  });

  it('Auto Scaling terminate lifecycle action: imminent, no deadline of its own; test notifications ignored', () => {
    const notice = acted(
      parsePreemptionNotice(ce(SQS, fixture('aws/eventbridge-asg-terminate-lifecycle-action.json')), now),
    );
    assert.equal(notice.format, NoticeFormat.AWS_ASG_TERMINATE);
    assert.equal(notice.urgency, Urgency.IMMINENT);
    assert.equal(notice.deadline, undefined);
    assert.deepEqual(notice.nodes, [{ providerIdSuffix: SampleId.AWS_INSTANCE }]);
    const test = fixture('aws/eventbridge-asg-terminate-lifecycle-action.json');
    test['detail'] = { ...test['detail'], LifecycleTransition: 'autoscaling:TEST_NOTIFICATION' };
    delete test['detail']['EC2InstanceId'];
    assert.ok(isIgnored(parsePreemptionNotice(ce(SQS, test), now)));
    const bad = fixture('aws/eventbridge-asg-terminate-lifecycle-action.json');
    bad['detail']['EC2InstanceId'] = 'not-an-instance';
    assert.deepEqual(
      invalidFields(() => parsePreemptionNotice(ce(SQS, bad), now)),
      ['data.detail.EC2InstanceId'],
    );
  });

  it('a raw EventBridge body becomes the CloudEvent carrying it; one without an id is named', () => {
    const raw = fixture('aws/eventbridge-spot-interruption-warning.json');
    const event = eventOfRawEventBridge(Buffer.from(JSON.stringify(raw)));
    assert.ok(event !== undefined);
    assert.equal(event.type, 'com.amazonaws.eventbridge.event');
    assert.equal(event.id, raw['id']);
    assert.equal(event.source, 'aws.ec2');
    assert.equal(event.subject, 'EC2 Spot Instance Interruption Warning');
    assert.ok(isPreemptionNotice(event));
    delete raw['id'];
    assert.deepEqual(
      invalidFields(() => eventOfRawEventBridge(Buffer.from(JSON.stringify(raw)))),
      ['data.id'],
    );
    assert.equal(eventOfRawEventBridge(Buffer.from('{"namespace":"ml"}')), undefined);
  });
});

describe('GCP Eventarc audit log (documented sample)', () => {
  it('compute.instances.preempted: the node by its whole GCE providerID, 30 s from the entry', () => {
    const event = fixture('gcp/eventarc-audit-log-instances-preempted.json');
    const notice = acted(parsePreemptionNotice(ce(event['type'], event['data']), now));
    assert.equal(notice.format, NoticeFormat.GCP_INSTANCE_PREEMPTED);
    assert.equal(notice.urgency, Urgency.IMMINENT);
    assert.deepEqual(notice.nodes, [{ providerId: 'gce://my-project/us-central1-a/gke-pool-1-abcd' }]);
    assert.equal(notice.deadline?.toISOString(), '2026-03-02T10:00:30.123Z');
  });

  it('another instance, other methods ignored, malformed entries named by field', () => {
    const other = aimedAt(auditData(), SampleId.GCE_INSTANCE, 'gke-pool-1-wxyz');
    assert.deepEqual(acted(parsePreemptionNotice(ce(AUDIT, other), now)).nodes, [
      { providerId: 'gce://my-project/us-central1-a/gke-pool-1-wxyz' },
    ]);
    const insert = auditData();
    insert['protoPayload']['methodName'] = 'v1.compute.instances.insert';
    assert.ok(isIgnored(parsePreemptionNotice(ce(AUDIT, insert), now)));
    const badName = auditData();
    badName['protoPayload']['resourceName'] = 'projects/my-project/global/networks/default';
    assert.deepEqual(
      invalidFields(() => parsePreemptionNotice(ce(AUDIT, badName), now)),
      ['data.protoPayload.resourceName'],
    );
    const noMethod = auditData();
    delete noMethod['protoPayload']['methodName'];
    assert.deepEqual(
      invalidFields(() => parsePreemptionNotice(ce(AUDIT, noMethod), now)),
      ['data.protoPayload.methodName'],
    );
  });
});

describe('Azure Scheduled Events (documented sample)', () => {
  it('Terminate acts like Preempt, with its own NotBefore', () => {
    const notice = acted(
      parsePreemptionNotice(ce('x', fixture('azure/scheduled-events-terminate.json')), now),
    );
    assert.equal(notice.format, NoticeFormat.AZURE_TERMINATE);
    assert.equal(notice.urgency, Urgency.IMMINENT);
    assert.deepEqual(notice.nodes, [{ vmName: SampleId.AZURE_VM }]);
    assert.equal(notice.deadline?.toISOString(), '2026-03-02T10:10:00.000Z');
    const preempt = acted(
      parsePreemptionNotice(ce('x', fixture('azure/scheduled-events-preempt.json')), now),
    );
    assert.equal(preempt.format, NoticeFormat.AZURE_PREEMPT);
    assert.equal(preempt.deadline?.toISOString(), '2026-03-02T10:00:30.000Z');
    const bad = fixture('azure/scheduled-events-terminate.json');
    delete bad['Events'][0]['EventId'];
    assert.deepEqual(
      invalidFields(() => parsePreemptionNotice(ce('x', bad), now)),
      ['data.Events.0.EventId'],
    );
  });
});

describe('io.snapback.preemption.noticed without a deadline', () => {
  it('is an early warning unless it says otherwise', () => {
    const type = 'io.snapback.preemption.noticed';
    const early = acted(parsePreemptionNotice(ce(type, { node: 'node-a' }), now));
    assert.equal(early.urgency, Urgency.EARLY);
    assert.equal(early.deadline, undefined);
    const imminent = acted(parsePreemptionNotice(ce(type, { node: 'node-a', urgency: 'imminent' }), now));
    assert.equal(imminent.urgency, Urgency.IMMINENT);
    assert.deepEqual(
      invalidFields(() => parsePreemptionNotice(ce(type, { node: 'node-a', urgency: 'soon' }), now)),
      ['data.urgency'],
    );
  });
});
