/**
 * A loopback stand-in for Azure's Instance Metadata Service Scheduled Events, following its documented
 * contract (https://learn.microsoft.com/azure/virtual-machines/linux/scheduled-events): every request needs
 * `Metadata: true` (else 400) and an `api-version`; GET answers `{DocumentIncarnation, Events}`, whose
 * incarnation grows with every change; POST `{"StartRequests": [{"EventId"}]}` approves events, which then
 * start (EventStatus Started, NotBefore empty).
 */
import { fixture, rfc1123 } from '../cloud-fixtures.js';
import { reply, type Stub, startStub } from './http-stub.js';

export interface FakeScheduledEvent {
  EventId: string;
  EventType: string;
  ResourceType: string;
  Resources: string[];
  EventStatus: string;
  NotBefore: string;
  Description: string;
  EventSource: string;
  DurationInSeconds: number;
}

export interface FakeAzureImds extends Stub {
  vmName: string;
  incarnation: number;
  /** Replaces the scheduled events (a new DocumentIncarnation). */
  setEvents(events: FakeScheduledEvent[]): void;
  /** EventIds approved through StartRequests, in order, and when. */
  approved: string[];
  approvedAt: number[];
  /** Scheduled Events documents served. */
  documentsServed: number;
}

export async function startFakeAzureImds(vmName: string): Promise<FakeAzureImds> {
  let events: FakeScheduledEvent[] = [];
  const imds = {
    vmName,
    incarnation: 1,
    approved: [],
    approvedAt: [],
    documentsServed: 0,
  } as unknown as FakeAzureImds;
  const stub = await startStub((req, url, body, res) => {
    if (req.headers['metadata'] !== 'true') {
      return reply(
        res,
        400,
        JSON.stringify({ error: 'Bad request. Required metadata header not specified' }),
      );
    }
    if (!url.searchParams.get('api-version')) {
      return reply(res, 400, JSON.stringify({ error: 'Bad request. api-version was not specified' }));
    }
    if (req.method === 'GET' && url.pathname === '/metadata/instance/compute/name') {
      return reply(res, 200, imds.vmName);
    }
    if (url.pathname !== '/metadata/scheduledevents') return reply(res, 404, 'Not Found');
    if (req.method === 'GET') {
      imds.documentsServed++;
      const document = { DocumentIncarnation: imds.incarnation, Events: events };
      return reply(res, 200, JSON.stringify(document), { 'content-type': 'application/json' });
    }
    if (req.method !== 'POST') return reply(res, 405, 'Method Not Allowed');
    const requested =
      (JSON.parse(body) as { StartRequests?: Array<{ EventId?: string }> }).StartRequests ?? [];
    for (const { EventId } of requested) {
      const event = events.find((e) => e.EventId === EventId);
      if (event === undefined)
        return reply(res, 400, JSON.stringify({ error: `unknown EventId ${EventId}` }));
      imds.approved.push(EventId!);
      imds.approvedAt.push(Date.now());
      event.EventStatus = 'Started';
      event.NotBefore = '';
    }
    imds.incarnation++;
    return reply(res, 200, '');
  });
  return Object.assign(imds, stub, {
    setEvents(next: FakeScheduledEvent[]) {
      events = next;
      imds.incarnation++;
    },
  });
}

/** The documented sample (test/fixtures/notices/azure), for `resources`, `NotBefore` `leadMs` from now. */
export function scheduledEvent(
  type: 'Preempt' | 'Terminate' | 'Freeze',
  id: string,
  resources: string[],
  leadMs: number,
): FakeScheduledEvent {
  const name =
    type === 'Terminate' ? 'azure/scheduled-events-terminate.json' : 'azure/scheduled-events-preempt.json';
  const event = fixture(name)['Events'][0] as FakeScheduledEvent;
  return {
    ...event,
    EventId: id,
    EventType: type,
    Resources: resources,
    NotBefore: rfc1123(new Date(Date.now() + leadMs)),
  };
}
