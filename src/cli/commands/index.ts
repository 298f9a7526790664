/** Every `snapback` subcommand, in the order help lists them (README, "The CLI"). */
import type { FunctionTable } from '../../http/context.js';
import type { Command } from '../command.js';
import { agentCommand } from './agent.js';
import { checkpointCommand } from './checkpoint.js';
import { deleteCommand } from './delete.js';
import { demoCommand } from './demo.js';
import { functionCommand } from './function.js';
import { inspectCommand, listCommand } from './list.js';
import { prestopCommand } from './prestop.js';
import { restoreCommand } from './restore.js';
import { runCommand } from './run.js';
import { sendCommand } from './send.js';
import { watchCommand } from './watch.js';
import { psCommand, stopCommand } from './workloads.js';

/** `functions`: the handlers `snapback function` serves (functions/index.ts). */
export const createCommands = (functions: FunctionTable): readonly Command[] => [
  agentCommand,
  functionCommand(functions),
  watchCommand,
  prestopCommand,
  runCommand,
  psCommand,
  stopCommand,
  checkpointCommand,
  restoreCommand,
  listCommand,
  inspectCommand,
  deleteCommand,
  sendCommand,
  demoCommand,
];
