/**
 * Azure Scheduled Events (Instance Metadata Service) documents, carried as a CloudEvent's `data`:
 * `{DocumentIncarnation, Events: [{EventId, EventType, ResourceType, Resources[], EventStatus, NotBefore}]}`.
 * Acted on: `Preempt` (Spot eviction, at least 30 s notice) and `Terminate` (a scale-set instance being
 * deleted, with the 5–15 minutes of notice its terminate notification is configured for). `NotBefore` is an
 * RFC 1123 date (`Mon, 19 Sep 2016 18:29:47 GMT`), empty once the event has started; other event types
 * (Freeze, Reboot, Redeploy, …) are ignored.
 * https://learn.microsoft.com/azure/virtual-machines/linux/scheduled-events
 */
import { ajv } from '../../validation/ajv.js';
import { assertValid } from './invalid.js';
import { NoticeFormat, type NoticeResult, Urgency } from './notice.js';

/** Spot VMs get at least 30 seconds between a Preempt event and eviction. */
export const PREEMPT_NOTICE_MS = 30_000;

/** The Scheduled Events types that end the VM. */
export const AzureEndingEvent = { PREEMPT: 'Preempt', TERMINATE: 'Terminate' } as const;
const endingTypes: readonly string[] = Object.values(AzureEndingEvent);

export interface ScheduledEvent {
  EventId: string;
  EventType: string;
  ResourceType?: string;
  Resources: string[];
  EventStatus?: string;
  NotBefore?: string;
}

export interface ScheduledEventsDocument {
  DocumentIncarnation?: number;
  Events: ScheduledEvent[];
}

const validate = ajv.compile<ScheduledEventsDocument>({
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

/** Whether a Scheduled Event ends the VM (Preempt, Terminate). */
export function isEndingEvent(event: Pick<ScheduledEvent, 'EventType'>): boolean {
  return endingTypes.includes(event.EventType);
}

/** `NotBefore`, or — for an event already started (empty NotBefore) — 30 s from `now`. */
export function deadlineOf(event: Pick<ScheduledEvent, 'NotBefore'>, now: Date): Date {
  const at = event.NotBefore ? Date.parse(event.NotBefore) : Number.NaN;
  return new Date(Number.isNaN(at) ? now.getTime() + PREEMPT_NOTICE_MS : at);
}

export function parseAzureScheduledEvents(data: unknown, now: Date): NoticeResult {
  assertValid(validate, data, 'invalid Azure Scheduled Events document');
  const ending = data.Events.filter(isEndingEvent);
  const preempts = ending.some((e) => e.EventType === AzureEndingEvent.PREEMPT);
  const format = preempts ? NoticeFormat.AZURE_PREEMPT : NoticeFormat.AZURE_TERMINATE;
  if (ending.length === 0) return { format, ignored: 'no Preempt or Terminate event in the document' };
  const deadlines = ending.map((e) => deadlineOf(e, now).getTime());
  const vmNames = [...new Set(ending.flatMap((e) => e.Resources))];
  return {
    format,
    urgency: Urgency.IMMINENT,
    deadline: new Date(Math.min(...deadlines)),
    nodes: vmNames.map((vmName) => ({ vmName })),
    reason: `Azure ${ending.map((e) => `${e.EventType} ${e.EventId}`).join(', ')}`,
  };
}
