/**
 * Which targets this agent may act on (DESIGN §2): only namespaces it is allowed, and — where the
 * runtime can tell — only containers of its own node whose pod opted in (`snapback.io/enabled: "true"`).
 */
import { ErrorCode, SnapbackError } from '../errors.js';
import type { TargetRef } from '../lib/runtime/index.js';

export interface AccessPolicy {
  /** Returns the target when allowed; FAILED_PRECONDITION naming the rule otherwise. */
  authorize(target: TargetRef): Promise<TargetRef>;
}

export interface PolicyOptions {
  /** Empty: every namespace. */
  allowedNamespaces: readonly string[];
}

export function createAccessPolicy(options: PolicyOptions): AccessPolicy {
  return {
    async authorize(target) {
      if (options.allowedNamespaces.length > 0 && !options.allowedNamespaces.includes(target.namespace)) {
        throw new SnapbackError(
          ErrorCode.FAILED_PRECONDITION,
          `namespace ${target.namespace} is not one this agent may act on (allowed: ${options.allowedNamespaces.join(', ')})`,
        );
      }
      return target;
    },
  };
}
