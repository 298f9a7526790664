/**
 * `snapback COMMAND …` over a list of commands: help, version, the command's run, and its errors mapped to
 * an exit status (0 success, 2 usage error, other non-zero per error code, src/errors.ts).
 */
import { ErrorCode, exitCodeOf, SnapbackError } from '../errors.js';
import type { Command, CommandIo } from './command.js';
import { commandHelp, mainHelp } from './help.js';
import { packageVersion as version } from './version.js';

export async function runMain(
  argv: readonly string[],
  io: CommandIo,
  commands: readonly Command[],
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'help' && rest.length > 0) return helpOf(rest[0]!, io, commands);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(mainHelp(commands, version));
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`${version}\n`);
    return 0;
  }
  const command: Command | undefined = commands.find((c) => c.name === name);
  if (command === undefined) {
    io.stderr.write(`snapback: unknown command "${name}"\n\n${mainHelp(commands, version)}`);
    return 2;
  }
  const dashDash = rest.indexOf('--');
  const flags = dashDash === -1 ? rest : rest.slice(0, dashDash);
  if (flags.includes('--help') || flags.includes('-h')) {
    io.stdout.write(commandHelp(command));
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    const error = SnapbackError.from(err);
    // A script that asked for JSON reads the failure from stdout too, in the same shape as a success's.
    if ('json' in command.options && flags.includes('--json'))
      io.stdout.write(`${JSON.stringify({ error: error.toJSON() }, null, 2)}\n`);
    if (error.code === ErrorCode.INVALID_ARGUMENT && error.details.length > 0) {
      io.stderr.write(
        `snapback ${command.name}: ${error.details.map((d) => `${d.field}: ${d.message}`).join('\n  ')}\n`,
      );
      io.stderr.write(`Run \`snapback ${command.name} --help\` for usage.\n`);
    } else {
      io.stderr.write(`snapback ${command.name}: ${error.code}: ${error.message}\n`);
    }
    return exitCodeOf[error.code];
  }
}

/** `snapback help COMMAND`: that command's help, as `snapback help COMMAND` prints it. */
function helpOf(name: string, io: CommandIo, commands: readonly Command[]): number {
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    io.stderr.write(`snapback: no command "${name}"\n\n${mainHelp(commands, version)}`);
    return 2;
  }
  io.stdout.write(commandHelp(command));
  return 0;
}
