/** What the executor is built from: every dependency is passed in, none is created here. */

import type { Criu } from '../lib/criu/index.js';
import type { HookRunner } from '../lib/hooks/index.js';
import type { Runtime } from '../lib/runtime/index.js';
import type { CheckpointStore, RemoteCopies } from '../lib/storage/index.js';
import type { Logger } from '../log.js';
import type { CudaPhase } from './cuda-phase.js';
import type { Journal } from './journal.js';

export interface ExecutorDeps {
  store: CheckpointStore;
  /**
   * The object-storage tier, when configured: a checkpoint is uploaded before it is published and fetched
   * before it is restored (`store` then lists what the bucket holds).
   */
  remote?: RemoteCopies;
  runtime: Runtime;
  criu: Criu;
  /** Runs a workload's pre-checkpoint and post-restore hooks inside its namespaces (hooks.ts). */
  hooks: HookRunner;
  /** Absent when the node has no CUDA tooling configured. */
  cuda: CudaPhase | undefined;
  logger: Logger;
  /** The node this executor serves, recorded in manifests and results. */
  node: string;
  /** Records states that must be undone if the agent dies in them (see journal.ts). */
  journal: Journal;
  /** Whether the kernel has userfaultfd as CRIU's lazy pages need it (`criu check --feature uffd-noncoop`). */
  lazyPagesSupported: boolean;
  /** Where CRIU's logs of failed restores are kept (node-local); none kept when absent. */
  keptLogsDir?: string;
}
