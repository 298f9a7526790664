/** The process runtime: workloads the agent starts itself, each in its own PID namespace. */

export { isRunning, processTree } from '../procfs/index.js';
export {
  createProcessRuntime,
  type ProcessRuntime,
  type StartRequest,
  type WorkloadStatus,
} from './runtime.js';
