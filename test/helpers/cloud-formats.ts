/**
 * Each cloud's own notice format as its broker posts it to the functions, built from the providers'
 * documented samples (test/fixtures/notices): aimed at "this" node's instance or VM, or at the "other"
 * node's, and a malformed copy with the field the 400 must name.
 */
import { aimedAt, fixture, type Json, rfc1123, SampleId } from './cloud-fixtures.js';
import { postBinary } from './functions-env.js';

export const AWS_A = 'i-0aaaaaaaaaaaaaaaa';
export const AWS_B = 'i-0bbbbbbbbbbbbbbbb';
const vmss = (i: number) =>
  `azure:///subscriptions/0000/resourceGroups/mc_rg/providers/Microsoft.Compute/virtualMachineScaleSets/aks-spot-12345678-vmss/virtualMachines/${i}`;

export type Target = 'this' | 'other';
export type Post = (url: string, target: Target) => Promise<Response>;

export const postRaw = (url: string, body: unknown) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(body),
  });

/** A raw EventBridge event as an API destination posts it. */
const rawEventBridge =
  (name: string, edit: (event: Json) => void): Post =>
  (url, target) => {
    const event = aimedAt(fixture(name), SampleId.AWS_INSTANCE, target === 'this' ? AWS_A : AWS_B);
    event['id'] = `${event['id']}-${target}`;
    edit(event);
    return postRaw(url, event);
  };

const eventarc: Post = (url, target) => {
  const event = fixture('gcp/eventarc-audit-log-instances-preempted.json');
  const aimed = aimedAt(event, SampleId.GCE_INSTANCE, target === 'this' ? 'gke-node-a' : 'gke-node-b');
  const { data, datacontenttype: _, ...attributes } = aimed;
  data['timestamp'] = new Date().toISOString();
  attributes['id'] = `${attributes['id']}-${target}`;
  return postBinary(url, attributes as Record<string, string>, data);
};

const azureDocument = (name: string, target: Target, leadMs: number): Json => {
  const document = aimedAt(
    fixture(name),
    SampleId.AZURE_VM,
    target === 'this' ? 'aks-spot-12345678-vmss_3' : 'aks-spot-12345678-vmss_4',
  );
  document['Events'][0]['NotBefore'] = rfc1123(new Date(Date.now() + leadMs));
  return document;
};

/** Every format, the nodes it is run against, and how to break it (and the field the answer names). */
export const formats: Array<{
  name: string;
  providerIds: [string, string];
  post: Post;
  malformed: { post: Post; field: string };
}> = [
  {
    name: 'raw EventBridge spot interruption warning (API destination)',
    providerIds: [`aws:///us-east-2a/${AWS_A}`, `aws:///us-east-2b/${AWS_B}`],
    post: rawEventBridge('aws/eventbridge-spot-interruption-warning.json', (e) => {
      e['time'] = new Date().toISOString();
    }),
    malformed: {
      post: rawEventBridge('aws/eventbridge-spot-interruption-warning.json', (e) => {
        e['detail']['instance-id'] = 'i-NOPE';
      }),
      field: 'data.detail.instance-id',
    },
  },
  {
    name: 'raw EventBridge instance state change (stopping)',
    providerIds: [`aws:///us-east-1a/${AWS_A}`, `aws:///us-east-1b/${AWS_B}`],
    post: rawEventBridge('aws/eventbridge-instance-state-change.json', (e) => {
      e['time'] = new Date().toISOString();
    }),
    malformed: {
      post: rawEventBridge('aws/eventbridge-instance-state-change.json', (e) => {
        e['time'] = 'yesterday';
      }),
      field: 'data.time',
    },
  },
  {
    name: 'raw EventBridge AWS Health scheduled change',
    providerIds: [`aws:///us-east-1a/${AWS_A}`, `aws:///us-east-1b/${AWS_B}`],
    post: rawEventBridge('aws/eventbridge-health-scheduled-change.json', (e) => {
      e['detail']['startTime'] = rfc1123(new Date(Date.now() + 86_400_000));
    }),
    malformed: {
      post: rawEventBridge('aws/eventbridge-health-scheduled-change.json', (e) => {
        delete e['detail']['service'];
      }),
      field: 'data.detail.service',
    },
  },
  {
    name: 'raw EventBridge Auto Scaling terminate lifecycle action',
    providerIds: [`aws:///us-west-2a/${AWS_A}`, `aws:///us-west-2b/${AWS_B}`],
    post: rawEventBridge('aws/eventbridge-asg-terminate-lifecycle-action.json', () => {}),
    malformed: {
      post: rawEventBridge('aws/eventbridge-asg-terminate-lifecycle-action.json', (e) => {
        delete e['detail']['EC2InstanceId'];
      }),
      field: 'data.detail.EC2InstanceId',
    },
  },
  {
    name: 'EventBridge rebalance recommendation inside a Knative SQS source event',
    providerIds: [`aws:///us-east-2a/${AWS_A}`, `aws:///us-east-2b/${AWS_B}`],
    post: (url, target) => {
      const event = aimedAt(
        fixture('aws/eventbridge-rebalance-recommendation.json'),
        SampleId.AWS_INSTANCE,
        target === 'this' ? AWS_A : AWS_B,
      );
      const attrs = {
        specversion: '1.0',
        id: `sqs-${target}`,
        source: 'arn:aws:sqs:us-east-2:1:q',
        type: 'dev.knative.eventing.aws-sqs',
      };
      return postBinary(url, attrs, event);
    },
    malformed: {
      post: (url) => {
        const event = fixture('aws/eventbridge-rebalance-recommendation.json');
        delete event['time'];
        const attrs = {
          specversion: '1.0',
          id: 'sqs-bad',
          source: 'arn:aws:sqs:us-east-2:1:q',
          type: 'dev.knative.eventing.aws-sqs',
        };
        return postBinary(url, attrs, event);
      },
      field: 'data.time',
    },
  },
  {
    name: 'Eventarc audit log compute.instances.preempted (binary mode)',
    providerIds: ['gce://my-project/us-central1-a/gke-node-a', 'gce://my-project/us-central1-a/gke-node-b'],
    post: eventarc,
    malformed: {
      post: (url) => {
        const {
          data,
          datacontenttype: _,
          ...attributes
        } = fixture('gcp/eventarc-audit-log-instances-preempted.json');
        data['protoPayload']['resourceName'] = 'projects/my-project/zones/us-central1-a';
        return postBinary(url, attributes as Record<string, string>, data);
      },
      field: 'data.protoPayload.resourceName',
    },
  },
  {
    name: 'Azure Scheduled Events Terminate (binary mode)',
    providerIds: [vmss(3), vmss(4)],
    post: (url, target) =>
      postBinary(
        url,
        {
          specversion: '1.0',
          id: `terminate-${target}`,
          source: '/azure/imds',
          type: 'com.microsoft.azure.scheduledevents',
        },
        azureDocument('azure/scheduled-events-terminate.json', target, 300_000),
      ),
    malformed: {
      post: (url) => {
        const document = fixture('azure/scheduled-events-terminate.json');
        document['Events'][0]['Resources'] = 'aks-spot-12345678-vmss_3';
        return postBinary(
          url,
          {
            specversion: '1.0',
            id: 'terminate-bad',
            source: '/azure/imds',
            type: 'com.microsoft.azure.scheduledevents',
          },
          document,
        );
      },
      field: 'data.Events.0.Resources',
    },
  },
  {
    name: 'Azure Scheduled Events Preempt as Event Grid delivers CloudEvents 1.0 (structured mode)',
    providerIds: [vmss(3), vmss(4)],
    post: (url, target) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
        body: JSON.stringify({
          specversion: '1.0',
          id: `grid-${target}`,
          source: '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.EventGrid/topics/snapback',
          type: 'com.microsoft.azure.scheduledevents',
          time: new Date().toISOString(),
          datacontenttype: 'application/json',
          data: azureDocument('azure/scheduled-events-preempt.json', target, 60_000),
        }),
      }),
    malformed: {
      post: (url) =>
        fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/cloudevents+json' },
          body: JSON.stringify({
            specversion: '1.0',
            id: 'grid-bad',
            source: '/grid',
            type: 'com.microsoft.azure.scheduledevents',
            data: { DocumentIncarnation: 'three', Events: [] },
          }),
        }),
      field: 'data.DocumentIncarnation',
    },
  },
];
