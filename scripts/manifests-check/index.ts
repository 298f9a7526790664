/**
 * `checkManifests(sources)`: every problem with a kustomize base of snapback manifests — YAML, the
 * kustomization's file list, schemas (Kubernetes and Knative), and the cross-checks against the code
 * (Trigger types, env variables, the agent's ports and labels, the node watcher, RBAC, the ApiServerSources). An empty list means the base passed.
 */
import { checkAgentNetwork } from './agent-network.js';
import { snapbackContainers } from './containers.js';
import { checkEnv } from './env.js';
import { loadBase, type Problem, readSources, type Sources } from './load.js';
import { checkRbac } from './rbac.js';
import { checkRouting } from './routing.js';
import { validateSchemas } from './schemas.js';
import { checkSources } from './sources.js';
import { checkWatcher } from './watcher.js';

export type { Problem, Sources } from './load.js';
export { readSources } from './load.js';

export function checkManifests(sources: Sources): Problem[] {
  const problems: Problem[] = [];
  const base = loadBase(sources, problems);
  if (base === undefined) return problems;
  const { kustomization, manifests } = base;
  const namespace = kustomization['namespace'];
  if (typeof namespace !== 'string')
    problems.push({ where: 'kustomization.yaml', message: 'namespace must be set' });
  validateSchemas(manifests, namespace, problems);
  checkRouting(manifests, problems);
  const containers = snapbackContainers(manifests, problems);
  checkEnv(containers, problems);
  checkAgentNetwork(manifests, containers, problems);
  checkWatcher(manifests, containers, problems);
  checkRbac(manifests, containers, problems);
  checkSources(manifests, problems);
  return problems;
}

export async function checkDirectory(dir: string): Promise<Problem[]> {
  return checkManifests(await readSources(dir));
}

export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => `${p.where}: ${p.message}`).join('\n');
}
