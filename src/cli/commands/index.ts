/** Every `snapback` subcommand, in the order help lists them (DESIGN §6). */
import type { Command } from '../command.js';
import { notBuilt } from './not-built.js';

export const commands: readonly Command[] = [
  notBuilt('agent', 'serve the node agent (gRPC) that checkpoints and restores workloads'),
  notBuilt('function', 'serve the event functions: checkpoint, restore, preemption, or all'),
  notBuilt('run', 'start a workload under the process runtime, known to the agent by name'),
  notBuilt('checkpoint', 'checkpoint a workload through an agent'),
  notBuilt('restore', 'restore a checkpoint through an agent'),
  notBuilt('list', 'list the checkpoints an agent holds'),
  notBuilt('inspect', "show a checkpoint's manifest"),
  notBuilt('send', 'post a CloudEvent to a function'),
  notBuilt('demo', 'run the end-to-end demo on this machine'),
];
