/**
 * `snapback prestop` on its own: the relay runs beside every opted-in pod, so it loads its command only —
 * not the agent, the functions and their gRPC and Kubernetes clients (about half the memory of the whole CLI).
 */
import type { CommandIo } from './command.js';
import { prestopCommand } from './commands/prestop.js';
import { runMain } from './run-main.js';

export function main(argv: readonly string[], io: CommandIo): Promise<number> {
  return runMain(argv, io, [prestopCommand]);
}
