/** Every `snapback` subcommand, in the order help lists them (DESIGN §6). */
import type { Command } from '../command.js';
import { agentCommand } from './agent.js';
import { checkpointCommand } from './checkpoint.js';
import { inspectCommand, listCommand } from './list.js';
import { notBuilt } from './not-built.js';
import { restoreCommand } from './restore.js';
import { runCommand } from './run.js';

export const commands: readonly Command[] = [
  agentCommand,
  notBuilt('function', 'serve the event functions: checkpoint, restore, preemption, or all'),
  runCommand,
  checkpointCommand,
  restoreCommand,
  listCommand,
  inspectCommand,
  notBuilt('send', 'post a CloudEvent to a function'),
  notBuilt('demo', 'run the end-to-end demo on this machine'),
];
