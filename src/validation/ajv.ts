/**
 * One ajv instance (JSON Schema draft 2020-12 + formats) for every schema in snapback: config, event data,
 * manifests. Schemas are compiled once, at module load of their owners, and reused.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ErrorDetail } from '../errors.js';

// ajv-formats is CommonJS with a default export; under NodeNext its namespace arrives as the default.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

export const ajv = new Ajv2020({ allErrors: true, strict: true, useDefaults: false });
addFormats(ajv);

export type { ValidateFunction };

/** ajv's errors as `{field, message}` pairs, with field as a dotted path (`data.pod`), never empty. */
export function detailsOf(errors: readonly ErrorObject[] | null | undefined, root = ''): ErrorDetail[] {
  return (errors ?? []).map((e) => {
    // instancePath is a JSON Pointer: `~1` stands for "/" and `~0` for "~" (RFC 6901), as in label keys.
    const segments = e.instancePath
      .split('/')
      .filter(Boolean)
      .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (e.keyword === 'required') segments.push(String(e.params['missingProperty']));
    if (e.keyword === 'additionalProperties') segments.push(String(e.params['additionalProperty']));
    const field = [root, ...segments].filter(Boolean).join('.') || root || '(value)';
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'enum')
      message = `must be one of ${(e.params['allowedValues'] as unknown[]).join(', ')}`;
    if (e.keyword === 'additionalProperties') message = 'is not a known field';
    if (e.keyword === 'required') message = 'is required';
    return { field, message };
  });
}
