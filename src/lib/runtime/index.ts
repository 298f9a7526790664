/**
 * What a container runtime provides to the executor (docs/architecture.md, "Runtimes"). `process`
 * (src/lib/process) runs workloads the agent started itself; `containerd` (src/lib/containerd) acts on
 * Kubernetes' containers and restores into placeholder containers. The executor drives every phase and
 * runs CRIU; a runtime answers what is where, contributes CRIU's options and where CRIU runs, and does
 * the runtime's own steps (the filesystem, the placeholder) inside the phases the executor hands it.
 */
import type { CriuPlacement } from '../criu/index.js';
import type { WorkloadHooks } from '../hooks/index.js';

export interface TargetRef {
  namespace: string;
  /** Pod name; under the process runtime, the workload's name. */
  pod: string;
  container?: string;
  /** The runtime's own container id, when the caller knows it. */
  containerId?: string;
}

/** Runs a named step, timed and reported as progress (the executor's PhaseClock). */
export interface Phases {
  run<T>(phase: string, work: () => Promise<T>): Promise<T>;
}

export interface Inspection {
  runtime: string;
  /** The target as resolved (names filled in), recorded in the manifest. */
  target: { namespace: string; pod: string; container?: string };
  /** Host pid of the tree's root: what CRIU dumps (with its whole tree). */
  rootPid: number;
  /** Host pids of the whole tree (CUDA discovery, io_uring check). */
  pids: number[];
  /** Where CRIU runs for the dump. */
  placement: CriuPlacement;
  /** `--external` descriptors (mounts, namespaces). */
  externals: string[];
  dumpArgs: string[];
  /** Everything the runtime needs to restore, recorded in the manifest as `workload`. */
  workload: Record<string, unknown>;
  /**
   * Who the workload is, as far as the runtime can tell (the container's pod and image, the process
   * runtime's workload name): the checkpoint's identity where the caller gives none.
   */
  identity: { owner: { kind: string; name: string }; container: string; image: string };
  description: string;
  /** The hooks the runtime keeps with the workload (the process runtime's record), when it has any. */
  hooks?: WorkloadHooks;
}

export interface RestoreContext {
  checkpointId: string;
  /** The manifest's `workload` record, written by this runtime at checkpoint time. */
  workload: Record<string, unknown>;
  checkpointDir: string;
  /** Where the restore may write (never inside the checkpoint). */
  workDir: string;
  /** The placeholder (containerd) or the new workload name (process); undefined = the checkpointed one. */
  target: TargetRef | undefined;
  /**
   * Process runtime: restore even where something already listens on a port the workload listened on (a
   * program with SO_REUSEPORT then shares it); otherwise such a restore is refused before CRIU runs.
   */
  allowPortClash: boolean;
  signal: AbortSignal;
}

/** A restore the runtime has made ready: how CRIU must run, and what follows it. */
export interface PreparedRestore {
  /** The runtime's name for what is being restored into (a workload name, a placeholder container). */
  workload: string;
  placement: CriuPlacement;
  /** `--inherit-fd` pairs; their fds are the child's (see `firstExtraFd`). */
  inheritFds: { fd: number; resource: string }[];
  extraArgs: string[];
  /** Finds the tree CRIU restored (`criuPid` as CRIU saw it) and makes it the runtime's. */
  complete(criuPid: number): Promise<RestoreOutcome>;
  /**
   * The restore failed at some point after `prepare` returned: undo what was done to the target, so that
   * it is never left half-restored. Returns what it did, in words.
   */
  fail(error: Error): Promise<string | undefined>;
}

export interface RestoreOutcome {
  /** Host pid of the restored root task. */
  pid: number;
  namespacePid: number | undefined;
  /** Name of the restored workload (process) or placeholder container id (containerd). */
  workload: string;
}

export interface Runtime {
  readonly name: 'process' | 'containerd';
  inspect(target: TargetRef, signal?: AbortSignal): Promise<Inspection>;
  /** Stops a checkpointed workload when the caller asked not to leave it running. */
  stop(inspection: Inspection): Promise<void>;
  /**
   * Captures, into `dir`, what of the workload CRIU's images do not hold (a container's filesystem changes,
   * its pod volumes); called while the dumped tree is still frozen, so that memory and files are one
   * moment. Absent for runtimes with nothing to add.
   */
  captureFrozen?(inspection: Inspection, dir: string, phases: Phases, signal?: AbortSignal): Promise<void>;
  /** Checks the target and readies it (its files, its placeholder), inside `phases`; touches nothing on refusal. */
  prepareRestore(context: RestoreContext, phases: Phases): Promise<PreparedRestore>;
  /** Kills a restored tree after a later restore step failed: never leave it half-alive. */
  abandon(outcome: RestoreOutcome): Promise<void>;
  /**
   * Tells the placeholder `target` there is nothing to restore (its snapback-init runs the container's own
   * command). Absent for runtimes without placeholders.
   */
  startCold?(target: TargetRef, reason: string): Promise<void>;
}
