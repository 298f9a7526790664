/**
 * The `snapback` entry point: one binary for every process (agent, functions, clients, demo), its
 * commands serving the functions they are given (functions/index.ts, composed by bin/snapback.ts).
 * Exit status: 0 success, 2 usage error, other non-zero per error code (src/errors.ts).
 */
import type { FunctionTable } from '../http/context.js';
import type { CommandIo } from './command.js';
import { createCommands } from './commands/index.js';
import { runMain } from './run-main.js';

export function main(argv: readonly string[], io: CommandIo, functions: FunctionTable): Promise<number> {
  return runMain(argv, io, createCommands(functions));
}
