/**
 * GCP: Compute Engine's `compute.instances.preempted` audit log entry, as Eventarc delivers it
 * (`google.cloud.audit.log.v1.written`, data = the LogEntry: https://cloud.google.com/eventarc/docs/cloudevents
 * and https://cloud.google.com/logging/docs/reference/audit/auditlog/rest/Shared.Types/AuditLog).
 * Preemption gives the VM 30 seconds (https://cloud.google.com/compute/docs/instances/spot#preemption), and
 * the entry is written as it starts: deadline = the entry's `timestamp` + 30 s.
 * The node is the one whose `spec.providerID` is `gce://PROJECT/ZONE/NAME` (GKE's form), built from
 * `protoPayload.resourceName` (`projects/P/zones/Z/instances/N`), with the project id taken from
 * `resource.labels.project_id` when the entry has it. Other audit-log methods are recognised and ignored.
 */
import { ajv } from '../../validation/ajv.js';
import { GcpEventType } from '../types.js';
import { assertValid, invalidNotice } from './invalid.js';
import { NoticeFormat, type NoticeResult, Urgency } from './notice.js';

export const PREEMPTED_METHOD = 'compute.instances.preempted';
export const GCE_PREEMPT_NOTICE_MS = 30_000;
const INSTANCE_RESOURCE = /^projects\/([^/]+)\/zones\/([^/]+)\/instances\/([^/]+)$/;

interface AuditLogEntry {
  timestamp: string;
  protoPayload: { serviceName: string; methodName: string; resourceName: string };
  resource?: { labels?: { project_id?: string } };
}

const validate = ajv.compile<AuditLogEntry>({
  type: 'object',
  required: ['protoPayload', 'timestamp'],
  properties: {
    timestamp: { type: 'string', format: 'date-time' },
    protoPayload: {
      type: 'object',
      required: ['serviceName', 'methodName', 'resourceName'],
      properties: {
        serviceName: { type: 'string' },
        methodName: { type: 'string' },
        resourceName: { type: 'string' },
      },
    },
    resource: {
      type: 'object',
      properties: {
        labels: { type: 'object', properties: { project_id: { type: 'string', minLength: 1 } } },
      },
    },
  },
});

export function looksLikeGcpAuditLog(type: string, data: unknown): boolean {
  return type === GcpEventType.AUDIT_LOG_WRITTEN && typeof data === 'object' && data !== null;
}

export function parseGcpAuditLog(data: unknown): NoticeResult {
  assertValid(validate, data, 'invalid Cloud Audit Log entry');
  const { protoPayload: log } = data;
  const format = NoticeFormat.GCP_INSTANCE_PREEMPTED;
  if (log.serviceName !== 'compute.googleapis.com' || log.methodName !== PREEMPTED_METHOD) {
    return { format, ignored: `audit log ${log.serviceName} ${log.methodName}` };
  }
  const match = INSTANCE_RESOURCE.exec(log.resourceName);
  if (match === null) {
    throw invalidNotice('invalid compute.instances.preempted entry', [
      {
        field: 'data.protoPayload.resourceName',
        message: 'must be projects/PROJECT/zones/ZONE/instances/NAME',
      },
    ]);
  }
  const [, project, zone, name] = match;
  const providerId = `gce://${data.resource?.labels?.project_id ?? project}/${zone}/${name}`;
  return {
    format,
    urgency: Urgency.IMMINENT,
    deadline: new Date(Date.parse(data.timestamp) + GCE_PREEMPT_NOTICE_MS),
    nodes: [{ providerId }],
    reason: `${PREEMPTED_METHOD} for ${providerId}`,
  };
}
