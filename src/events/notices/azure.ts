/**
 * Azure Scheduled Events (Instance Metadata Service) documents, carried as a CloudEvent's `data`:
 * `{DocumentIncarnation, Events: [{EventId, EventType, ResourceType, Resources[], EventStatus, NotBefore}]}`.
 * Only `Preempt` events (Spot eviction, at least 30 s notice) are acted on; `NotBefore` is an RFC 1123 date
 * (`Mon, 19 Sep 2016 18:29:47 GMT`), empty once the event has started.
 * https://learn.microsoft.com/azure/virtual-machines/linux/scheduled-events
 */
import { ErrorCode, SnapbackError } from '../../errors.js';
import { ajv } from '../../validation/ajv.js';
import { dataProblems } from '../schemas.js';
import { NoticeFormat, type NoticeResult, Urgency } from './notice.js';

/** Spot VMs get at least 30 seconds between a Preempt event and eviction. */
export const PREEMPT_NOTICE_MS = 30_000;

export interface ScheduledEvent {
  EventId: string;
  EventType: string;
  ResourceType?: string;
  Resources: string[];
  EventStatus?: string;
  NotBefore?: string;
}

const validate = ajv.compile<{ Events: ScheduledEvent[] }>({
  type: 'object',
  required: ['Events'],
  properties: {
    DocumentIncarnation: { type: 'integer' },
    Events: {
      type: 'array',
      items: {
        type: 'object',
        required: ['EventId', 'EventType', 'Resources'],
        properties: {
          EventId: { type: 'string' },
          EventType: { type: 'string' },
          Resources: { type: 'array', items: { type: 'string', minLength: 1 } },
          NotBefore: { type: 'string' },
        },
      },
    },
  },
});

export function looksLikeAzureScheduledEvents(data: unknown): boolean {
  return typeof data === 'object' && data !== null && Array.isArray((data as { Events?: unknown }).Events);
}

export function parseAzureScheduledEvents(data: unknown, now: Date): NoticeResult {
  const problems = dataProblems(validate, data);
  if (problems.length > 0) {
    throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, 'invalid Azure Scheduled Events document', {
      details: problems,
    });
  }
  const preempts = (data as { Events: ScheduledEvent[] }).Events.filter((e) => e.EventType === 'Preempt');
  if (preempts.length === 0) {
    return { format: NoticeFormat.AZURE_PREEMPT, ignored: 'no Preempt event in the document' };
  }
  const deadlines = preempts.map((e) => {
    const at = e.NotBefore ? Date.parse(e.NotBefore) : Number.NaN;
    return Number.isNaN(at) ? now.getTime() + PREEMPT_NOTICE_MS : at;
  });
  const vmNames = [...new Set(preempts.flatMap((e) => e.Resources))];
  return {
    format: NoticeFormat.AZURE_PREEMPT,
    urgency: Urgency.IMMINENT,
    deadline: new Date(Math.min(...deadlines)),
    nodes: vmNames.map((vmName) => ({ vmName })),
    reason: `Azure Preempt ${preempts.map((e) => e.EventId).join(', ')}`,
  };
}
