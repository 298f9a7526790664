/**
 * Sample notices shaped like the real ones: AWS EventBridge EC2 events (as documented in the EC2 user
 * guide), an Azure IMDS Scheduled Events document, and a Knative ApiServerSource Node object.
 */
export function awsSpotWarning(instanceId: string, time: string): Record<string, unknown> {
  return {
    version: '0',
    id: '12345678-1234-1234-1234-123456789012',
    'detail-type': 'EC2 Spot Instance Interruption Warning',
    source: 'aws.ec2',
    account: '123456789012',
    time,
    region: 'us-east-2',
    resources: [`arn:aws:ec2:us-east-2:123456789012:instance/${instanceId}`],
    detail: { 'instance-id': instanceId, 'instance-action': 'terminate' },
  };
}

export function awsRebalance(instanceId: string): Record<string, unknown> {
  return {
    version: '0',
    id: '12345678-1234-1234-1234-123456789013',
    'detail-type': 'EC2 Instance Rebalance Recommendation',
    source: 'aws.ec2',
    account: '123456789012',
    time: '2026-11-28T11:58:00Z',
    region: 'us-east-2',
    resources: [`arn:aws:ec2:us-east-2:123456789012:instance/${instanceId}`],
    detail: { 'instance-id': instanceId },
  };
}

export function azurePreempt(resources: string[], notBefore: string): Record<string, unknown> {
  return {
    DocumentIncarnation: 2,
    Events: [
      {
        EventId: 'A123BC45-1234-5678-AB90-ABCDEF123456',
        EventStatus: notBefore === '' ? 'Started' : 'Scheduled',
        EventType: 'Preempt',
        ResourceType: 'VirtualMachine',
        Resources: resources,
        NotBefore: notBefore,
        Description: 'Virtual machine is being preempted.',
        EventSource: 'Platform',
        DurationInSeconds: -1,
      },
    ],
  };
}

/** A Node as the ApiServerSource sends it; a taint is its key, or its key and value. */
export function nodeUpdate(
  name: string,
  taints: ReadonlyArray<string | { key: string; value: string }>,
  at: Date,
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      uid: `uid-${name}`,
      resourceVersion: '4242',
      labels: { 'kubernetes.io/hostname': name },
    },
    spec: {
      providerID: `aws:///us-east-2a/i-0${name.length}`,
      taints: taints.map((t) => ({
        ...(typeof t === 'string' ? { key: t } : t),
        effect: 'NoSchedule',
        timeAdded: at.toISOString(),
      })),
    },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  };
}
