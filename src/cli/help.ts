/** Help text generated from the commands' options tables, so it never drifts from what is parsed. */
import { flagOf } from '../config/options.js';
import type { Command } from './command.js';

export function commandHelp(command: Command): string {
  const lines = [`Usage: snapback ${command.name} ${command.usage}`.trimEnd(), '', command.summary, ''];
  const rows = Object.entries(command.options).map(([key, option]) => {
    const value = option.type === 'boolean' ? '' : ` ${option.valueName ?? option.type.toUpperCase()}`;
    const short = option.short === undefined ? '' : `-${option.short}, `;
    const left = `  ${short}${flagOf(key)}${value}`;
    const extras = [
      option.required ? 'required' : undefined,
      option.default !== undefined ? `default ${JSON.stringify(option.default)}` : undefined,
      option.env !== undefined ? `env ${option.env}` : undefined,
    ].filter(Boolean);
    return [left, `${option.description}${extras.length ? ` (${extras.join('; ')})` : ''}`] as const;
  });
  if (rows.length > 0) {
    const width = Math.max(...rows.map(([left]) => left.length)) + 2;
    lines.push('Options:', ...rows.map(([left, right]) => left.padEnd(width) + right), '');
  }
  return lines.join('\n');
}

export function mainHelp(commands: readonly Command[], version: string): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 4;
  return [
    `snapback ${version} — event-driven checkpoint/restore of (GPU) containers`,
    '',
    'Usage: snapback COMMAND [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Run `snapback help COMMAND` (or `snapback COMMAND --help`) for the options of a command.',
    '',
  ].join('\n');
}
