/** The process runtime: workloads the agent starts itself, each in its own PID namespace. */

export { assertInitForwards } from './launch.js';
export { createProcessRuntime, type ProcessRuntime, type WorkloadStatus } from './runtime.js';
