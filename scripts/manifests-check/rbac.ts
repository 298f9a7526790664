/**
 * RBAC against the code: the ServiceAccount the functions run as is granted (through a ClusterRoleBinding
 * or RoleBinding of the base) every verb on every resource src/dispatch/api-access.ts says they use; each
 * ApiServerSource's ServiceAccount may get, list and watch what the source sends.
 */
import { type ApiAccess, functionsApiAccess, sourceVerbs } from '../../src/dispatch/api-access.js';
import { type SnapbackContainer, SnapbackImage } from './containers.js';
import { describe, type Manifest, type Problem } from './load.js';

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
}
interface Binding {
  roleRef?: { kind?: string; name?: string };
  subjects?: Array<{ kind?: string; name?: string; namespace?: string }>;
}

const nameOf = (m: Manifest) => (m.object['metadata'] as { name?: string } | undefined)?.name;
const namespaceOf = (m: Manifest) => (m.object['metadata'] as { namespace?: string } | undefined)?.namespace;

/** Every rule granted to a ServiceAccount by the base's bindings. */
export function rulesOf(
  manifests: readonly Manifest[],
  account: string,
  namespace: string | undefined,
): Rule[] {
  const roles = new Map(
    manifests
      .filter((m) => m.object['kind'] === 'ClusterRole' || m.object['kind'] === 'Role')
      .map((m) => [`${String(m.object['kind'])}/${nameOf(m)}`, m]),
  );
  return manifests
    .filter((m) => m.object['kind'] === 'ClusterRoleBinding' || m.object['kind'] === 'RoleBinding')
    .filter((m) =>
      ((m.object as Binding).subjects ?? []).some(
        (s) =>
          s.kind === 'ServiceAccount' && s.name === account && (s.namespace ?? namespaceOf(m)) === namespace,
      ),
    )
    .flatMap((m) => {
      const ref = (m.object as Binding).roleRef;
      return (roles.get(`${ref?.kind}/${ref?.name}`)?.object['rules'] as Rule[] | undefined) ?? [];
    });
}

/** The verbs of `access` that no rule grants. */
export function missingVerbs(rules: readonly Rule[], access: ApiAccess): string[] {
  const granted = (verb: string) =>
    rules.some(
      (r) =>
        (r.apiGroups ?? []).some((g) => g === access.group || g === '*') &&
        (r.resources ?? []).some((x) => x === access.resource || x === '*') &&
        (r.verbs ?? []).some((v) => v === verb || v === '*'),
    );
  return access.verbs.filter((v) => !granted(v));
}

function serviceAccountOf(m: Manifest): string | undefined {
  const spec = (m.object['spec'] as { template?: { spec?: { serviceAccountName?: string } } } | undefined)
    ?.template?.spec;
  return spec?.serviceAccountName;
}

/** Plural resource names of the kinds an ApiServerSource may send here. */
export const resourceOfKind: Readonly<Record<string, string>> = {
  Node: 'nodes',
  Pod: 'pods',
  Event: 'events',
};

export function checkRbac(
  manifests: readonly Manifest[],
  containers: readonly SnapbackContainer[],
  problems: Problem[],
): void {
  const functionServices = new Set(
    containers.filter((c) => c.container.image === SnapbackImage.FUNCTIONS).map((c) => c.manifest),
  );
  for (const service of functionServices) {
    const account = serviceAccountOf(service) ?? 'default';
    const rules = rulesOf(manifests, account, namespaceOf(service));
    for (const access of functionsApiAccess) {
      const missing = missingVerbs(rules, access);
      if (missing.length > 0) {
        problems.push({
          where: describe(service),
          message: `ServiceAccount ${account} may not ${missing.join(', ')} ${access.resource}, which the functions do (src/dispatch/api-access.ts)`,
        });
      }
    }
  }
  for (const source of manifests.filter((m) => m.object['kind'] === 'ApiServerSource')) {
    const spec = source.object['spec'] as {
      serviceAccountName?: string;
      resources?: Array<{ kind?: string }>;
    };
    const account = spec.serviceAccountName ?? 'default';
    const rules = rulesOf(manifests, account, namespaceOf(source));
    for (const { kind } of spec.resources ?? []) {
      const resource = resourceOfKind[kind ?? ''];
      if (resource === undefined) continue; // sources.ts says which kinds are read
      const missing = missingVerbs(rules, { group: '', resource, verbs: sourceVerbs });
      if (missing.length > 0) {
        problems.push({
          where: describe(source),
          message: `ServiceAccount ${account} may not ${missing.join(', ')} ${resource}, which the source watches`,
        });
      }
    }
  }
}
