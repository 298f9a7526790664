/**
 * HTTP protocol binding (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md):
 * binary, structured and batch content modes into validated, immutable events. Every envelope problem is
 * collected and reported at once (INVALID_ARGUMENT with one detail per attribute); a content type snapback
 * does not read is told apart (`contentModeOf`) so the edge can answer 415. A JSON body without any `ce-`
 * header that is a raw AWS EventBridge event is read as the CloudEvent carrying it (`eventbridge.ts`).
 */
import type { CloudEvent } from 'cloudevents';
import { ErrorCode, type ErrorDetail, SnapbackError } from '../errors.js';
import { envelopeProblems, toCloudEvent } from './envelope.js';
import { eventOfRawEventBridge, hasCloudEventHeaders } from './eventbridge.js';

export const ContentMode = { BINARY: 'binary', STRUCTURED: 'structured', BATCH: 'batch' } as const;
export type ContentMode = (typeof ContentMode)[keyof typeof ContentMode];

export type HttpHeaders = Readonly<Record<string, string | string[] | undefined>>;

const CE_JSON = 'application/cloudevents+json';
const CE_BATCH = 'application/cloudevents-batch+json';

function header(headers: HttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function mediaTypeOf(headers: HttpHeaders): string | undefined {
  return header(headers, 'content-type')?.split(';')[0]?.trim().toLowerCase() || undefined;
}

/** JSON media types: application/json and any `+json` suffix. */
export function isJsonMediaType(mediaType: string | undefined): boolean {
  return mediaType === undefined || mediaType === 'application/json' || mediaType.endsWith('+json');
}

/**
 * The content mode of a request, or `{ unsupported }` naming a content type snapback does not read
 * (other CloudEvents formats such as `+avro`, or non-JSON binary-mode data).
 */
export function contentModeOf(headers: HttpHeaders): ContentMode | { unsupported: string } {
  const media = mediaTypeOf(headers);
  if (media === CE_BATCH) return ContentMode.BATCH;
  if (media === CE_JSON) return ContentMode.STRUCTURED;
  if (media?.startsWith('application/cloudevents')) return { unsupported: media };
  if (!isJsonMediaType(media)) return { unsupported: media ?? '' };
  return ContentMode.BINARY;
}

function invalid(message: string, details: ErrorDetail[]): SnapbackError {
  const summary = details.map((d) => `${d.field}: ${d.message}`).join('; ');
  return new SnapbackError(ErrorCode.INVALID_ARGUMENT, `${message}: ${summary}`, { details });
}

function parseJson(body: Buffer, field: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw invalid('malformed JSON', [{ field, message: `is not valid JSON (${(err as Error).message})` }]);
  }
}

/** Binary mode: attributes from `ce-` headers (percent-decoded), data from the body. */
function parseBinary(headers: HttpHeaders, body: Buffer): CloudEvent<unknown>[] {
  const attributes: Record<string, unknown> = {};
  const problems: ErrorDetail[] = [];
  for (const [name, raw] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!lower.startsWith('ce-') || raw === undefined) continue;
    const value = Array.isArray(raw) ? raw.join(',') : raw;
    try {
      attributes[lower.slice(3)] = decodeURIComponent(value);
    } catch {
      problems.push({ field: lower, message: 'is not valid percent-encoding' });
    }
  }
  const contentType = header(headers, 'content-type');
  if (contentType !== undefined) attributes['datacontenttype'] = contentType;
  if (body.length > 0) attributes['data'] = parseJson(body, 'data');
  // Binary-mode attributes are all strings; report them under their header names.
  problems.push(
    ...envelopeProblems(attributes).map((p) => ({
      field: p.field === 'data' || p.field === 'datacontenttype' ? p.field : `ce-${p.field}`,
      message: p.message,
    })),
  );
  if (problems.length > 0) throw invalid('invalid CloudEvent', problems);
  return [toCloudEvent(attributes)];
}

function parseStructured(body: Buffer): CloudEvent<unknown>[] {
  const parsed = parseJson(body, '(body)');
  const problems = envelopeProblems(parsed);
  if (problems.length > 0) throw invalid('invalid CloudEvent', problems);
  return [toCloudEvent(parsed as Record<string, unknown>)];
}

function parseBatch(body: Buffer): CloudEvent<unknown>[] {
  const parsed = parseJson(body, '(body)');
  if (!Array.isArray(parsed)) {
    throw invalid('invalid batch', [{ field: '(body)', message: 'must be a JSON array of events' }]);
  }
  const problems = parsed.flatMap((item, i) => envelopeProblems(item, `events[${i}].`));
  if (problems.length > 0) throw invalid('invalid CloudEvent batch', problems);
  return parsed.map((item) => toCloudEvent(item as Record<string, unknown>));
}

/**
 * Parses an HTTP request into validated events (several for a batch). Throws INVALID_ARGUMENT naming
 * every failing attribute; call `contentModeOf` first to answer unsupported media types.
 */
export function parseHttpEvents(headers: HttpHeaders, body: Buffer): CloudEvent<unknown>[] {
  const mode = contentModeOf(headers);
  if (typeof mode === 'object') {
    throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, `unsupported content type "${mode.unsupported}"`);
  }
  if (mode === ContentMode.BATCH) return parseBatch(body);
  if (mode === ContentMode.STRUCTURED) return parseStructured(body);
  if (!hasCloudEventHeaders(headers)) {
    const raw = eventOfRawEventBridge(body);
    if (raw !== undefined) return [raw];
  }
  return parseBinary(headers, body);
}
