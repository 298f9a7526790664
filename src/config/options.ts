/**
 * How a process declares its options: one table per command, read by `loadConfig` (argv, then the
 * environment, then the default) and by the CLI's help text.
 */
export type OptionType = 'string' | 'integer' | 'number' | 'boolean' | 'string[]';

export interface OptionSpec {
  type: OptionType;
  description: string;
  /** Environment variable read when the flag is absent. */
  env?: string;
  default?: string | number | boolean | readonly string[];
  required?: boolean;
  /** Extra JSON Schema keywords for the value: pattern, enum, minimum, format … */
  schema?: Record<string, unknown>;
  /** Name of the value in help text (`--listen HOST:PORT`). */
  valueName?: string;
  short?: string;
}

export type OptionsSpec = Readonly<Record<string, OptionSpec>>;

/** `checkpointId` is written `--checkpoint-id` on the command line. */
export function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Value types for a parsed options table. */
export type ConfigOf<S extends OptionsSpec> = {
  [K in keyof S]: S[K]['required'] extends true
    ? ValueOf<S[K]['type']>
    : S[K]['default'] extends NonNullable<unknown>
      ? ValueOf<S[K]['type']>
      : ValueOf<S[K]['type']> | undefined;
};

type ValueOf<T extends OptionType> = T extends 'string'
  ? string
  : T extends 'integer' | 'number'
    ? number
    : T extends 'boolean'
      ? boolean
      : string[];
