/**
 * The functions snapback serves, by name: what `snapback function <name>` and the HTTP transport
 * (src/http/) route events to — `/<name>`, or `/` by event type — and the preemption function's preStop
 * door (`/prestop`).
 */
import type { FunctionTable } from '../src/http/context.js';
import { checkpointFunction } from './checkpoint/index.js';
import { preemptionFunction } from './preemption/index.js';
import { preStopHandler } from './prestop/index.js';
import { restoreFunction } from './restore/index.js';

export const functions: FunctionTable = {
  checkpoint: checkpointFunction,
  restore: restoreFunction,
  preemption: preemptionFunction,
  preStop: preStopHandler,
};
