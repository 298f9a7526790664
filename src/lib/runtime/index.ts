/**
 * What a container runtime provides to the executor (docs/architecture.md, "Runtimes"). `process` (src/lib/process) runs
 * workloads the agent started itself; `containerd` (src/lib/containerd) acts on Kubernetes' containers and
 * restores into placeholder containers. The executor drives the phases; a runtime answers what is where.
 */
import type { Criu } from '../criu/index.js';

export interface TargetRef {
  namespace: string;
  /** Pod name; under the process runtime, the workload's name. */
  pod: string;
  container?: string;
  /** The runtime's own container id, when the caller knows it. */
  containerId?: string;
}

export interface Inspection {
  runtime: string;
  /** The target as resolved (names filled in), recorded in the manifest. */
  target: { namespace: string; pod: string; container?: string };
  /** Host pid of the tree's root. */
  rootPid: number;
  /** Host pids of the whole tree (CUDA discovery, io_uring check). */
  pids: number[];
  /** Pid handed to `criu dump -t`: the host pid, or the namespace pid when `criuVia` enters the namespaces. */
  dumpPid: number;
  /** Command prefix that runs criu where it must run (e.g. `nsenter -t PID -m -p --`); empty = here. */
  criuVia: string[];
  externals: string[];
  dumpArgs: string[];
  /** Overlay upperdir, when the runtime has one: the rootfs diff comes from it. */
  upperDir?: string;
  /** Everything the runtime needs to restore, recorded in the manifest as `workload`. */
  workload: Record<string, unknown>;
  description: string;
}

export interface RestoreContext {
  checkpointId: string;
  /** The manifest's `workload` record, written by this runtime at checkpoint time. */
  workload: Record<string, unknown>;
  checkpointDir: string;
  imagesDir: string;
  /** Where the restore may write its log and pid file (never inside the checkpoint). */
  workDir: string;
  /** The placeholder (containerd) or the new workload name (process); undefined = the checkpointed one. */
  target: TargetRef | undefined;
  criu: Criu;
  signal: AbortSignal;
  /** Restore lazily: a `criu lazy-pages` daemon serves the pages on `workDir` (the executor runs it). */
  lazyPages?: boolean;
}

export interface RestoreOutcome {
  /** Host pid of the restored root task. */
  pid: number;
  namespacePid: number | undefined;
  /** Name of the restored workload (process) or placeholder container id (containerd). */
  workload: string;
  durations: Record<string, number>;
}

export interface Runtime {
  readonly name: 'process' | 'containerd';
  inspect(target: TargetRef, signal?: AbortSignal): Promise<Inspection>;
  /** Stops a checkpointed workload when the caller asked not to leave it running. */
  stop(inspection: Inspection): Promise<void>;
  /** Writes the rootfs diff of the container into `dir`; absent for runtimes without one. */
  captureRootfs?(inspection: Inspection, dir: string, signal?: AbortSignal): Promise<number>;
  restore(context: RestoreContext): Promise<RestoreOutcome>;
  /** Kills a restored tree after a later restore step failed: never leave it half-alive. */
  abandon(outcome: RestoreOutcome): Promise<void>;
}
