/**
 * The placeholder a containerd restore goes into: a running container of the checkpoint's image, on a
 * machine of its architecture, with every mount the checkpointed container had. Anything else is refused
 * naming the difference, before anything is touched.
 */
import { ErrorCode, SnapbackError } from '../../errors.js';
import type { TargetRef } from '../runtime/index.js';
import type { ContainerdClient } from './client.js';
import { type SnapbackInit, snapbackInitOf } from './init-protocol.js';
import type { ContainerWorkload } from './inspect-helpers.js';
import { mountpoints, mountsOf } from './mounts.js';
import { describe, type ResolvedContainer, resolveRunning } from './targets.js';

export async function resolvePlaceholder(
  client: ContainerdClient,
  target: TargetRef | undefined,
): Promise<ResolvedContainer> {
  if (target === undefined || (target.pod === '' && !target.containerId)) {
    throw new SnapbackError(
      ErrorCode.INVALID_ARGUMENT,
      'a containerd restore goes into a running placeholder container: name it',
      { details: [{ field: 'target', message: 'the placeholder (pod or container id) is required' }] },
    );
  }
  try {
    return await resolveRunning(client, target);
  } catch (err) {
    const error = SnapbackError.from(err);
    if (error.code !== ErrorCode.NOT_FOUND && error.code !== ErrorCode.FAILED_PRECONDITION) throw error;
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `placeholder ${describe(target)} cannot take a restore: ${error.message}`,
      { cause: error },
    );
  }
}

/**
 * Refuses a placeholder the checkpoint cannot go into; returns its snapback-init when it runs one (which
 * must still be waiting: a placeholder takes one restore).
 */
export async function checkPlaceholder(
  placeholder: ResolvedContainer,
  init: number,
  workload: ContainerWorkload,
  checkpointId: string,
): Promise<SnapbackInit | undefined> {
  const id = placeholder.container.id;
  const refuse = (message: string, field: string) =>
    new SnapbackError(ErrorCode.FAILED_PRECONDITION, message, { details: [{ field, message }] });
  if (placeholder.container.image !== workload.image) {
    throw refuse(
      `placeholder ${id} runs image ${placeholder.container.image}, but checkpoint ${checkpointId} was taken from ${workload.image}`,
      'image',
    );
  }
  if (workload.arch !== process.arch) {
    throw refuse(
      `checkpoint ${checkpointId} was taken on ${workload.arch}; this node is ${process.arch}`,
      'arch',
    );
  }
  const has = new Set((await mountsOf(init)).map((m) => m.mountPoint));
  const missing = mountpoints(workload.mounts).filter((m) => !has.has(m));
  if (missing.length > 0) {
    throw refuse(
      `placeholder ${id} lacks mounts the checkpointed container had: ${missing.join(', ')} (give it the same volumes)`,
      'volumes',
    );
  }
  const snapbackInit = await snapbackInitOf(init, placeholder.container.spec.process?.args);
  if (snapbackInit !== undefined) {
    const state = await snapbackInit.state();
    if (state.kind !== 'waiting') {
      throw refuse(
        `placeholder ${id}'s snapback-init is not waiting for a restore (${state.kind}${state.kind === 'cold' ? `: ${state.reason}` : ''})`,
        'placeholder',
      );
    }
  }
  return snapbackInit;
}
