/**
 * The real functions app on loopback (local mode) in front of a fake agent that records every dispatch,
 * plus valid events of each snapback type, for the hostile-input tests.
 */
import { randomUUID } from 'node:crypto';
import { functions } from '../../functions/index.js';
import { createAgentDispatcher } from '../../src/dispatch/agent-dispatcher.js';
import { createLocalResolver } from '../../src/dispatch/resolver.js';
import { EventType } from '../../src/events/types.js';
import { type FunctionsServer, startFunctionsServer } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';
import { type FakeAgent, startFakeAgent } from './fake-agent.js';

export interface ErrorReply {
  error: { code: string; message: string; details?: Array<{ field: string; message: string }> };
}

export interface Reply {
  status: number;
  contentType: string;
  body: unknown;
}

export interface HostileEnv {
  url: string;
  agent: FakeAgent;
  /** Checkpoints and restores the fake agent was asked for. */
  dispatched(): number;
  post(headers: Record<string, string>, body: string | Uint8Array): Promise<Reply>;
  close(): Promise<void>;
}

export async function startHostileEnv(): Promise<HostileEnv> {
  const agent = await startFakeAgent('node-a');
  agent.workloads = [
    {
      name: 'web-0',
      pid: 4242,
      command: ['sleep'],
      running: true,
      stdoutPath: '',
      stderrPath: '',
      startedAt: '',
      restoredFrom: '',
    },
  ];
  const client = createAgentDispatcher();
  const server: FunctionsServer = await startFunctionsServer(
    {
      functions,
      serve: 'all',
      resolver: createLocalResolver({ agent: agent.address, node: 'node-a', agents: client }),
      agents: client,
      log: silentLogger(),
      maxBodyBytes: 64 * 1024,
    },
    0,
    '127.0.0.1',
  );
  const url = `http://127.0.0.1:${server.port}/`;
  return {
    url,
    agent,
    dispatched: () => agent.checkpoints.length + agent.restores.length,
    async post(headers, body) {
      const res = await fetch(url, { method: 'POST', headers, body });
      const text = await res.text();
      const contentType = res.headers.get('content-type') ?? '';
      let parsed: unknown = text;
      if (contentType.includes('json') && text !== '') parsed = JSON.parse(text);
      return { status: res.status, contentType, body: parsed };
    },
    async close() {
      await server.close();
      await agent.close();
    },
  };
}

/** Valid `data` per inbound snapback type. */
export function validData(type: string): Record<string, unknown> {
  if (type === EventType.CHECKPOINT_REQUESTED)
    return { namespace: 'default', pod: 'web-0', checkpointId: 'ckpt-1' };
  if (type === EventType.RESTORE_REQUESTED)
    return { checkpointId: 'ckpt-1', namespace: 'default', pod: 'web-0' };
  return { node: 'node-a', deadline: new Date(Date.now() + 3_600_000).toISOString() };
}

export const inboundTypes = [
  EventType.CHECKPOINT_REQUESTED,
  EventType.RESTORE_REQUESTED,
  EventType.PREEMPTION_NOTICED,
] as const;

/** A valid structured-mode event of `type`, unique by id. */
export function validEvent(type: string = EventType.CHECKPOINT_REQUESTED): Record<string, unknown> {
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: '/test/hostile',
    type,
    datacontenttype: 'application/json',
    data: validData(type),
  };
}

/** The same event as binary-mode headers and body. */
export function toBinary(event: Record<string, unknown>): { headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const [key, value] of Object.entries(event)) {
    if (key === 'data' || key === 'datacontenttype') continue;
    headers[`ce-${key}`] = encodeURIComponent(String(value));
  }
  return { headers, body: JSON.stringify(event['data']) };
}

/**
 * What every refusal looks like: 4xx, a JSON body with code INVALID_ARGUMENT and at least one detail
 * naming a field. Returns the details.
 */
export function assertNamedRefusal(reply: Reply): Array<{ field: string; message: string }> {
  const what = JSON.stringify(reply.body).slice(0, 400);
  if (![400, 413, 415].includes(reply.status))
    throw new Error(`expected 400/413/415, got ${reply.status}: ${what}`);
  if (!reply.contentType.includes('application/json')) throw new Error(`not JSON: ${reply.contentType}`);
  const { error } = reply.body as ErrorReply;
  if (error?.code !== 'INVALID_ARGUMENT') throw new Error(`expected INVALID_ARGUMENT: ${what}`);
  const details = error.details ?? [];
  if (details.length === 0) throw new Error(`no details: ${what}`);
  for (const d of details) {
    if (typeof d.field !== 'string' || d.field === '' || typeof d.message !== 'string' || d.message === '')
      throw new Error(`a detail without field or message: ${what}`);
  }
  return details;
}
