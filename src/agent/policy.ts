/**
 * Which targets this agent may act on (docs/architecture.md, "Agent contract"): only namespaces it is allowed, and — where the
 * runtime can tell — only containers of its own node whose pod opted in (`snapback.io/enabled: "true"`).
 * Under the process runtime a workload exists only because it was started through this agent, on this
 * node; under containerd the container is looked up on the node's own containerd (none elsewhere is
 * reachable) and its namespace and pod labels are read there, never taken from the request.
 */
import { ErrorCode, SnapbackError } from '../errors.js';
import { OPT_IN_LABEL, OPT_IN_VALUE } from '../events/opt-in.js';
import type { PodFacts } from '../lib/containerd/index.js';
import type { TargetRef } from '../lib/runtime/index.js';

export interface AccessPolicy {
  /** Returns the target when allowed; FAILED_PRECONDITION naming the rule otherwise. */
  authorize(target: TargetRef): Promise<TargetRef>;
}

export interface PolicyOptions {
  /** Empty: every namespace. */
  allowedNamespaces: readonly string[];
  /**
   * Runtimes that can tell (containerd): the container a target names on this node, with its pod's real
   * namespace and labels. When given, the pod must carry the opt-in label.
   */
  podOf?: (target: TargetRef) => Promise<PodFacts>;
}

function refuse(rule: string, message: string): SnapbackError {
  return new SnapbackError(ErrorCode.FAILED_PRECONDITION, `${message} (rule: ${rule})`, {
    details: [{ field: 'target', message: `${rule}: ${message}` }],
  });
}

export function createAccessPolicy(options: PolicyOptions): AccessPolicy {
  const allowed = options.allowedNamespaces;
  const checkNamespace = (namespace: string | undefined, what: string) => {
    if (allowed.length === 0 || (namespace !== undefined && allowed.includes(namespace))) return;
    throw refuse(
      'allowed-namespaces',
      namespace === undefined
        ? `${what} belongs to no Kubernetes namespace; this agent acts only in ${allowed.join(', ')}`
        : `namespace ${namespace} is not one this agent may act on (allowed: ${allowed.join(', ')})`,
    );
  };
  return {
    async authorize(target) {
      if (options.podOf === undefined) {
        checkNamespace(target.namespace, `workload ${target.pod}`);
        return target;
      }
      const facts = await options.podOf(target);
      const what =
        facts.pod === undefined ? `container ${facts.containerId}` : `pod ${facts.namespace}/${facts.pod}`;
      checkNamespace(facts.namespace, what);
      if (facts.labels[OPT_IN_LABEL] !== OPT_IN_VALUE) {
        throw refuse(
          'opt-in',
          `${what} has not opted in: it needs the label ${OPT_IN_LABEL}: "${OPT_IN_VALUE}"` +
            (facts.labels[OPT_IN_LABEL] === undefined ? '' : ` (it is "${facts.labels[OPT_IN_LABEL]}")`),
        );
      }
      // Act on exactly the container that was checked, not on whatever the names resolve to later.
      return { ...target, containerId: facts.containerId };
    },
  };
}
