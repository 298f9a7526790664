/**
 * A pod's hooks as the functions send them to its agent (docs/hooks.md): the annotations
 * `snapback.io/pre-checkpoint` and `snapback.io/post-restore`, parsed here so that a bad one fails that
 * pod's dispatch at once with an error naming the annotation, and never reaches the agent.
 */
import { hooksToMessage } from '../agent/hooks-codec.js';
import { POST_RESTORE_ANNOTATION, PRE_CHECKPOINT_ANNOTATION } from '../events/opt-in.js';
import type { WorkloadHooks as WorkloadHooksMessage } from '../generated/snapback/agent/v1/agent.js';
import { parseWorkloadHooks } from '../lib/hooks/index.js';
import type { Located } from './resolver.js';

/** The target's hooks for its agent, or none; INVALID_ARGUMENT naming the annotation when one is malformed. */
export function hooksOfTarget(located: Located): WorkloadHooksMessage | undefined {
  const annotations = located.hookAnnotations;
  if (annotations === undefined) return undefined;
  const hooks = parseWorkloadHooks(annotations, {
    preCheckpoint: `annotation ${PRE_CHECKPOINT_ANNOTATION} of pod ${located.namespace}/${located.pod}`,
    postRestore: `annotation ${POST_RESTORE_ANNOTATION} of pod ${located.namespace}/${located.pod}`,
  });
  return hooks === undefined ? undefined : hooksToMessage(hooks);
}

/**
 * Collects what the agent says along the way that no result field carries — a hook skipped for want of
 * time, failed under best effort, or a workload that did not wake — for the completion event's `notes`.
 */
export function progressNotes(): {
  add(progress: { phase: string; message: string }): void;
  notes: string[];
} {
  const notes: string[] = [];
  return {
    add(progress) {
      if (progress.message !== '') notes.push(`${progress.phase}: ${progress.message}`);
    },
    notes,
  };
}
