/**
 * `loadConfig(spec, argv, env)`: the one place a process turns its command line and environment into
 * validated configuration. Every problem — unknown flags, missing values, wrong types, schema violations —
 * is collected and reported at once in a single INVALID_ARGUMENT error.
 */
import { ErrorCode, type ErrorDetail, SnapbackError } from '../errors.js';
import { ajv, detailsOf, type ValidateFunction } from '../validation/ajv.js';
import { type ConfigOf, flagOf, type OptionSpec, type OptionsSpec } from './options.js';

export interface LoadedConfig<S extends OptionsSpec> {
  values: ConfigOf<S>;
  /** Arguments that are not flags, and everything after `--`. */
  positionals: string[];
}

export interface LoadConfigOptions {
  /** How many positionals are allowed before `--` (default 0). */
  maxPositionals?: number;
}

const validators = new WeakMap<OptionsSpec, ValidateFunction>();

export function loadConfig<S extends OptionsSpec>(
  spec: S,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  options: LoadConfigOptions = {},
): LoadedConfig<S> {
  const problems: ErrorDetail[] = [];
  const { raw, positionals, afterDashDash } = scanArgv(spec, argv, problems);
  const maxPositionals = options.maxPositionals ?? 0;
  if (positionals.length > maxPositionals) {
    problems.push({ field: positionals[maxPositionals]!, message: 'unexpected argument' });
  }

  const values: Record<string, unknown> = {};
  for (const [key, option] of Object.entries(spec)) {
    const fromArgv = raw.get(key);
    const fromEnv = option.env === undefined ? undefined : env[option.env];
    const source = fromArgv !== undefined ? flagOf(key) : option.env;
    const text = fromArgv ?? (fromEnv === undefined || fromEnv === '' ? undefined : [fromEnv]);
    if (text === undefined) {
      if (option.default !== undefined) values[key] = structuredClone(option.default);
      continue;
    }
    const parsed = parseValue(option, text, fromArgv === undefined);
    if (parsed.ok) values[key] = parsed.value;
    else problems.push({ field: source ?? flagOf(key), message: parsed.message });
  }

  const validate = validatorFor(spec);
  if (!validate(values)) {
    for (const detail of detailsOf(validate.errors)) {
      const key = detail.field.split('.')[0]!;
      if (problems.some((p) => p.field === flagOf(key))) continue; // already said it cannot parse
      const option = spec[key];
      const field = option === undefined ? detail.field : flagOf(key);
      const where =
        option?.env !== undefined && !raw.has(key) && values[key] !== undefined
          ? ` (from ${option.env})`
          : '';
      const hint =
        detail.message === 'is required' && option?.env !== undefined ? ` (or set ${option.env})` : '';
      problems.push({ field, message: `${detail.message}${where}${hint}` });
    }
  }

  if (problems.length > 0) {
    const summary = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
    throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, `invalid configuration: ${summary}`, {
      details: problems,
    });
  }
  return { values: values as ConfigOf<S>, positionals: [...positionals, ...afterDashDash] };
}

interface Scan {
  raw: Map<string, string[]>;
  positionals: string[];
  afterDashDash: string[];
}

function scanArgv(spec: OptionsSpec, argv: readonly string[], problems: ErrorDetail[]): Scan {
  const byFlag = new Map<string, string>();
  for (const [key, option] of Object.entries(spec)) {
    byFlag.set(flagOf(key), key);
    if (option.short !== undefined) byFlag.set(`-${option.short}`, key);
  }
  const raw = new Map<string, string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return { raw, positionals, afterDashDash: argv.slice(i + 1) };
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    let key = byFlag.get(name);
    let negated = false;
    if (key === undefined && name.startsWith('--no-')) {
      const positive = byFlag.get(`--${name.slice(5)}`);
      if (positive !== undefined && spec[positive]!.type === 'boolean') [key, negated] = [positive, true];
    }
    if (key === undefined) {
      problems.push({ field: name, message: 'unknown option' });
      continue;
    }
    const option = spec[key]!;
    let value: string;
    if (option.type === 'boolean' && eq === -1) value = negated ? 'false' : 'true';
    else if (eq !== -1) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) value = argv[++i]!;
    else {
      problems.push({ field: name, message: 'needs a value' });
      continue;
    }
    const previous = option.type === 'string[]' ? (raw.get(key) ?? []) : [];
    raw.set(key, [...previous, value]);
  }
  return { raw, positionals, afterDashDash: [] };
}

type Parsed = { ok: true; value: unknown } | { ok: false; message: string };

/** Lists come one per flag on the command line, comma-separated in an environment variable. */
function parseValue(option: OptionSpec, text: readonly string[], fromEnv: boolean): Parsed {
  const last = text[text.length - 1]!;
  switch (option.type) {
    case 'string':
      return { ok: true, value: last };
    case 'string[]': {
      const items = fromEnv ? text.flatMap((t) => t.split(',')) : text;
      return { ok: true, value: items.map((s) => s.trim()).filter(Boolean) };
    }
    case 'boolean': {
      const lowered = last.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(lowered)) return { ok: true, value: true };
      if (['false', '0', 'no', 'off'].includes(lowered)) return { ok: true, value: false };
      return { ok: false, message: `must be true or false, got "${last}"` };
    }
    case 'integer':
    case 'number': {
      const value = Number(last);
      if (last.trim() === '' || !Number.isFinite(value))
        return { ok: false, message: `must be a number, got "${last}"` };
      if (option.type === 'integer' && !Number.isInteger(value)) {
        return { ok: false, message: `must be an integer, got "${last}"` };
      }
      return { ok: true, value };
    }
  }
}

function validatorFor(spec: OptionsSpec): ValidateFunction {
  const cached = validators.get(spec);
  if (cached) return cached;
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const [key, option] of Object.entries(spec)) {
    const type = option.type === 'string[]' ? 'array' : option.type;
    properties[key] = {
      type,
      ...(option.type === 'string[]' ? { items: { type: 'string', ...option.schema } } : option.schema),
    };
    if (option.required) required.push(key);
  }
  const validate = ajv.compile({ type: 'object', properties, required, additionalProperties: false });
  validators.set(spec, validate);
  return validate;
}
