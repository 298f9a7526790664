/**
 * The agent's table of operations in flight: one per target at a time (docs/architecture.md, "Agent
 * contract"). A second checkpoint of a busy target is refused with ALREADY_EXISTS, unless it carries the
 * same checkpoint id: then it joins the running operation and gets its outcome. Joiners also receive the
 * progress that follows.
 */
import { ErrorCode, SnapbackError } from '../errors.js';
import type { ProgressListener, ProgressUpdate } from '../executor/phase-clock.js';

interface Running<T> {
  kind: string;
  key: string;
  id: string;
  promise: Promise<T>;
  listeners: Set<ProgressListener>;
  controller: AbortController;
}

export interface InFlightStart<T> {
  promise: Promise<T>;
  /** Whether this call joined an operation already running. */
  joined: boolean;
  controller: AbortController;
}

export interface InFlightTable {
  /**
   * Runs `work` for `target` unless that target is busy. `id` identifies the operation (a checkpoint id):
   * the same kind and id join; anything else on a busy target is ALREADY_EXISTS.
   */
  start<T>(
    kind: string,
    target: string,
    id: string,
    onProgress: ProgressListener,
    work: (signal: AbortSignal, progress: ProgressListener) => Promise<T>,
  ): InFlightStart<T>;
  /** Settles when every running operation has finished. */
  drain(): Promise<void>;
  readonly size: number;
}

export function createInFlightTable(): InFlightTable {
  const byTarget = new Map<string, Running<unknown>>();
  const byId = new Map<string, Running<unknown>>();
  return {
    get size() {
      return byTarget.size;
    },
    start<T>(
      kind: string,
      target: string,
      id: string,
      onProgress: ProgressListener,
      work: (signal: AbortSignal, progress: ProgressListener) => Promise<T>,
    ): InFlightStart<T> {
      const idKey = `${kind}:${id}`;
      const sameId = byId.get(idKey);
      if (sameId !== undefined) {
        if (sameId.key !== target) {
          throw new SnapbackError(
            ErrorCode.ALREADY_EXISTS,
            `${kind} ${id} is already running for ${sameId.key}`,
          );
        }
        sameId.listeners.add(onProgress);
        return { promise: sameId.promise as Promise<T>, joined: true, controller: sameId.controller };
      }
      const busy = byTarget.get(target);
      if (busy !== undefined) {
        throw new SnapbackError(
          ErrorCode.ALREADY_EXISTS,
          `${target} is busy: ${busy.kind} ${busy.id} is running`,
        );
      }
      const listeners = new Set<ProgressListener>([onProgress]);
      const controller = new AbortController();
      const broadcast = (update: ProgressUpdate) => {
        for (const listener of listeners) listener(update);
      };
      const promise = Promise.resolve()
        .then(() => work(controller.signal, broadcast))
        .finally(() => {
          byTarget.delete(target);
          byId.delete(idKey);
        });
      const running: Running<unknown> = { kind, key: target, id, promise, listeners, controller };
      byTarget.set(target, running);
      byId.set(idKey, running);
      return { promise, joined: false, controller };
    },
    async drain() {
      await Promise.allSettled([...byTarget.values()].map((r) => r.promise));
    },
  };
}
