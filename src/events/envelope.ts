/**
 * CloudEvents 1.0 envelope validation. The SDK's `HTTP.toEvent` builds events without validating them (and
 * fills a missing `id` or `time` in), so every envelope is checked here, against the raw attributes, before
 * an event is built. Rules: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md and the
 * JSON format (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md).
 */

import type { ErrorObject } from 'ajv/dist/2020.js';
import { CloudEvent } from 'cloudevents';
import type { ErrorDetail } from '../errors.js';
import { ajv } from '../validation/ajv.js';

/** RFC 3339 date-time, with range checks and a mandatory offset (`2018-04-05T17:31:00Z`, `+01:00`). */
const RFC3339 =
  '^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])[Tt]([01]\\d|2[0-3]):[0-5]\\d:([0-5]\\d|60)(\\.\\d+)?([Zz]|[+-]([01]\\d|2[0-3]):[0-5]\\d)$';
/** RFC 2046 media type: `type/subtype` and optional parameters. */
const MEDIA_TYPE = '^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\\s*;.*)?$';
const INT32 = { type: 'integer', minimum: -2147483648, maximum: 2147483647 };

const optionalString = (extra: Record<string, unknown> = {}) => ({
  anyOf: [{ type: 'null' }, { type: 'string', minLength: 1, ...extra }],
});

const envelopeSchema = {
  type: 'object',
  required: ['specversion', 'id', 'source', 'type'],
  properties: {
    specversion: { const: '1.0' },
    id: { type: 'string', minLength: 1 },
    source: { type: 'string', minLength: 1, format: 'uri-reference' },
    type: { type: 'string', minLength: 1 },
    datacontenttype: optionalString({ pattern: MEDIA_TYPE }),
    dataschema: optionalString({ format: 'uri' }),
    subject: optionalString(),
    time: optionalString({ pattern: RFC3339 }),
    data: true,
    data_base64: { type: 'string' },
  },
  // Attribute names: lower-case letters and digits only (spec "Attribute Naming Convention").
  propertyNames: { pattern: '^([a-z0-9]+|data_base64)$' },
  additionalProperties: { anyOf: [{ type: 'null' }, { type: 'string' }, { type: 'boolean' }, INT32] },
  not: { type: 'object', properties: { data: true, data_base64: true }, required: ['data', 'data_base64'] },
};
const validateEnvelope = ajv.compile(envelopeSchema);

const messages: Record<string, string> = {
  specversion: 'must be "1.0" (the only CloudEvents version snapback reads)',
  time: 'must be an RFC 3339 timestamp with an offset, e.g. 2018-04-05T17:31:00Z',
  datacontenttype: 'must be a non-empty RFC 2046 media type (type/subtype)',
  dataschema: 'must be a non-empty absolute URI',
  source: 'must be a non-empty URI-reference',
  id: 'must be a non-empty string',
  type: 'must be a non-empty string',
  subject: 'must be a non-empty string when present',
  data_base64: 'must be a base64 string',
};

/**
 * Every problem of one event's attributes, each naming its attribute (prefixed by `where`, e.g.
 * `events[2].` in a batch or `ce-` for binary-mode headers).
 */
export function envelopeProblems(attributes: unknown, where = ''): ErrorDetail[] {
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
    return [{ field: where.replace(/\.$/, '') || '(event)', message: 'must be a JSON object' }];
  }
  if (validateEnvelope(attributes)) return [];
  const seen = new Set<string>();
  const problems: ErrorDetail[] = [];
  for (const error of validateEnvelope.errors ?? []) {
    const detail = detailOf(error, attributes as Record<string, unknown>);
    const key = `${detail?.field}\0${detail?.message}`;
    if (detail === undefined || seen.has(key)) continue;
    seen.add(key);
    problems.push({ field: `${where}${detail.field}`, message: detail.message });
  }
  return problems;
}

function detailOf(error: ErrorObject, attributes: Record<string, unknown>): ErrorDetail | undefined {
  if (error.keyword === 'required') {
    const name = String(error.params['missingProperty']);
    return { field: name, message: 'is required' };
  }
  if (error.keyword === 'not') {
    return { field: 'data_base64', message: 'must not be present together with data' };
  }
  const propertyName = (error as ErrorObject & { propertyName?: string }).propertyName;
  if (error.keyword === 'propertyNames' || propertyName !== undefined) {
    if (propertyName === undefined) return undefined;
    return {
      // An empty name is still named, so the answer says which attribute is wrong.
      field: propertyName === '' ? '""' : propertyName,
      message: 'is not a valid attribute name (lower-case letters and digits only)',
    };
  }
  // instancePath is a JSON Pointer: `/name`, with `~1` for "/" and `~0` for "~" (RFC 6901).
  const name = error.instancePath.split('/')[1]?.replace(/~1/g, '/').replace(/~0/g, '~');
  if (name === undefined) return undefined;
  if (messages[name] !== undefined) return { field: name, message: messages[name] };
  const value = attributes[name];
  const kind = typeof value === 'number' ? 'a 32-bit integer' : 'a string, boolean or integer';
  return { field: name === '' ? '""' : name, message: `extension value must be ${kind}` };
}

/** Builds the SDK's immutable event from attributes already checked by `envelopeProblems`. */
export function toCloudEvent(attributes: Record<string, unknown>): CloudEvent<unknown> {
  const present: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined) present[key] = value;
  }
  return new CloudEvent<unknown>(present, false);
}
