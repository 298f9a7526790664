/** `snapback send`: post one CloudEvent (binary or structured mode) and print the reply. */
import { randomUUID } from 'node:crypto';
import { CloudEvent, HTTP } from 'cloudevents';
import { loadConfig } from '../../config/load-config.js';
import { ErrorCode, exitCodeOf, SnapbackError } from '../../errors.js';
import type { ErrorBody } from '../../http/replies.js';
import { defineCommand } from '../command.js';
import { judgeReply } from '../send-reply.js';

const options = {
  to: {
    type: 'string',
    required: true,
    valueName: 'URL',
    description: 'the function URL',
    schema: { format: 'uri' },
  },
  type: {
    type: 'string',
    required: true,
    valueName: 'TYPE',
    description: 'event type, e.g. io.snapback.checkpoint.requested',
  },
  data: { type: 'string', default: '{}', valueName: 'JSON', description: 'event data (JSON)' },
  mode: {
    type: 'string',
    default: 'binary',
    description: 'content mode',
    schema: { enum: ['binary', 'structured'] },
  },
  source: { type: 'string', default: '/snapback/cli', description: 'event source' },
  id: { type: 'string', description: 'event id (default: a new UUID)' },
  subject: { type: 'string', description: 'event subject' },
  timeoutMs: {
    type: 'integer',
    default: 600000,
    description: 'how long to wait for the reply',
    schema: { minimum: 1 },
  },
  json: {
    type: 'boolean',
    default: false,
    description: 'print the answer as one JSON object ({status, reply}), failures included',
  },
} as const;

/** The exit status of a refusal: its error code's, else the HTTP status's nearest meaning. */
function refusalExit(status: number, reply: unknown): number {
  const code = (reply as { error?: { code?: string } } | null)?.error?.code;
  if (code !== undefined && code in exitCodeOf) return exitCodeOf[code as ErrorCode];
  if (status >= 400 && status < 500) return exitCodeOf[ErrorCode.INVALID_ARGUMENT];
  return status === 503 ? exitCodeOf[ErrorCode.UNAVAILABLE] : exitCodeOf[ErrorCode.INTERNAL];
}

export const sendCommand = defineCommand({
  name: 'send',
  summary: 'post a CloudEvent to a function; exits non-zero when the operation it answers failed',
  usage: '--to URL --type TYPE [--data JSON] [--mode binary|structured] [--source S] [--id I] [--json]',
  options,
  async run(argv, io) {
    const { values } = loadConfig(options, argv, io.env);
    let data: unknown;
    try {
      data = JSON.parse(values.data);
    } catch (err) {
      throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, 'bad --data', {
        details: [{ field: '--data', message: `is not JSON (${(err as Error).message})` }],
      });
    }
    const event = new CloudEvent<unknown>({
      specversion: '1.0',
      id: values.id ?? randomUUID(),
      source: values.source,
      type: values.type,
      datacontenttype: 'application/json',
      data,
      ...(values.subject ? { subject: values.subject } : {}),
    });
    const message = values.mode === 'structured' ? HTTP.structured(event) : HTTP.binary(event);
    const response = await fetch(values.to, {
      method: 'POST',
      headers: Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, String(v)])),
      body: message.body as string,
      signal: AbortSignal.any([io.signal, AbortSignal.timeout(values.timeoutMs)]),
    }).catch((err: unknown) => {
      throw new SnapbackError(ErrorCode.UNAVAILABLE, `cannot reach ${values.to}`, { cause: err });
    });
    const text = await response.text();
    const reply = printable(response.headers, text);
    const ok = response.status >= 200 && response.status < 300;
    const verdict = ok ? judgeReply(reply) : undefined;
    if (values.json) io.stdout.write(`${JSON.stringify({ status: response.status, reply }, null, 2)}\n`);
    else if (verdict !== undefined) io.stdout.write(`${verdict.lines.join('\n')}\n`);
    else io.stderr.write(`snapback send: ${refusalText(response.status, reply)}\n`);
    return verdict?.exit ?? refusalExit(response.status, reply);
  },
});

/** `400 INVALID_ARGUMENT: …` and each field the function named, for a person. */
function refusalText(status: number, reply: unknown): string {
  const error = (reply as { error?: ErrorBody['error'] } | null)?.error;
  if (error === undefined) return `the function answered ${status}: ${JSON.stringify(reply)}`;
  const details = (error.details ?? []).map((d) => `\n  ${d.field}: ${d.message}`).join('');
  return `the function answered ${status} ${error.code}: ${error.message}${details}`;
}

function printable(headers: Headers, text: string): unknown {
  const plain = Object.fromEntries(headers.entries());
  if (plain['ce-id'] !== undefined) {
    try {
      return HTTP.toEvent({ headers: plain, body: text }) as unknown as Record<string, unknown>;
    } catch {
      // fall through to the raw body
    }
  }
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
