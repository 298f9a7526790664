/**
 * The agent's address as the functions find it (src/dispatch/kube-resolver.ts: pods labelled
 * app.kubernetes.io/name=snapback-agent in SNAPBACK_AGENT_NAMESPACE, the container port named `grpc`, else
 * SNAPBACK_AGENT_PORT / the default) agrees with the DaemonSet (labels, port, listen address, gRPC probe)
 * and with the NetworkPolicy (agent pods, that port, from every function pod).
 */
import { AGENT_SELECTOR, DEFAULT_AGENT_PORT } from '../../src/dispatch/kube-resolver.js';
import { podLabelsOf, type SnapbackContainer, SnapbackImage } from './containers.js';
import { describe, type Manifest, type Problem } from './load.js';

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: unknown[];
}

/** Whether a selector (matchLabels only; expressions are not supported here) selects these labels. */
export function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (selector === undefined || (selector.matchExpressions?.length ?? 0) > 0) return false;
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

function parseSelector(text: string): LabelSelector {
  return { matchLabels: Object.fromEntries(text.split(',').map((kv) => kv.split('=') as [string, string])) };
}

interface NetworkPolicySpec {
  podSelector?: LabelSelector;
  policyTypes?: string[];
  ingress?: Array<{
    from?: Array<{ podSelector?: LabelSelector }>;
    ports?: Array<{ port?: number | string }>;
  }>;
}

export function checkAgentNetwork(
  manifests: readonly Manifest[],
  containers: readonly SnapbackContainer[],
  problems: Problem[],
): void {
  const agents = containers.filter(
    (c) => c.container.image === SnapbackImage.AGENT && c.container.args?.[0] === 'agent',
  );
  const functions = containers.filter((c) => c.container.image === SnapbackImage.FUNCTIONS);
  const agent = agents[0];
  if (agents.length !== 1 || agent === undefined || agent.manifest.object['kind'] !== 'DaemonSet') {
    problems.push({
      where: 'agent',
      message: 'the base must run exactly one agent container, in a DaemonSet',
    });
    return;
  }
  const { where } = agent;
  const say = (message: string) => problems.push({ where, message });
  if (!selects(parseSelector(AGENT_SELECTOR), agent.labels)) say(`pod labels must match ${AGENT_SELECTOR}`);
  const port = agent.container.ports?.find((p) => p.name === 'grpc')?.containerPort;
  if (port === undefined) return void say('the agent container must declare a port named grpc');
  const listen = /^(.*):(\d+)$/.exec(agent.env['SNAPBACK_LISTEN'] ?? '');
  if (listen === null || Number(listen[2]) !== port || !['0.0.0.0', '[::]'].includes(listen[1]!)) {
    say(`SNAPBACK_LISTEN must be 0.0.0.0:${port} or [::]:${port} (the grpc port, on the pod network)`);
  }
  if (agent.container.readinessProbe?.grpc?.port !== port) say(`the readiness probe must be grpc on ${port}`);
  const namespace = (agent.manifest.object['metadata'] as { namespace?: string }).namespace;
  for (const f of functions) {
    const fallback = Number(f.env['SNAPBACK_AGENT_PORT'] ?? DEFAULT_AGENT_PORT);
    if (fallback !== port) {
      problems.push({
        where: f.where,
        message: `agent port ${fallback} differs from the DaemonSet's grpc ${port}`,
      });
    }
    if (f.env['SNAPBACK_AGENT_NAMESPACE'] !== namespace) {
      problems.push({
        where: f.where,
        message: `SNAPBACK_AGENT_NAMESPACE must be ${namespace}, the agent's`,
      });
    }
  }
  checkNetworkPolicy(manifests, agent, port, functions, problems);
}

function checkNetworkPolicy(
  manifests: readonly Manifest[],
  agent: SnapbackContainer,
  port: number,
  functions: readonly SnapbackContainer[],
  problems: Problem[],
): void {
  const policies = manifests.filter(
    (m) =>
      m.object['kind'] === 'NetworkPolicy' &&
      selects((m.object['spec'] as NetworkPolicySpec | undefined)?.podSelector, podLabelsOf(agent.manifest)),
  );
  const policy = policies[0];
  if (policy === undefined) {
    problems.push({ where: agent.where, message: 'no NetworkPolicy selects the agent pods' });
    return;
  }
  const where = describe(policy);
  const spec = policy.object['spec'] as NetworkPolicySpec;
  if (!spec.policyTypes?.includes('Ingress'))
    problems.push({ where, message: 'policyTypes must include Ingress' });
  const rules = spec.ingress ?? [];
  const open = rules.filter((r) => r.ports?.some((p) => p.port === port || p.port === 'grpc'));
  if (open.length === 0) problems.push({ where, message: `no ingress rule opens the agent's port ${port}` });
  if (rules.some((r) => r.from === undefined || r.from.length === 0)) {
    problems.push({ where, message: 'an ingress rule without `from` admits every pod' });
  }
  for (const f of functions) {
    const admitted = open.some((r) => r.from?.some((peer) => selects(peer.podSelector, f.labels)));
    if (!admitted)
      problems.push({ where, message: `function pods of ${f.where} may not reach port ${port}` });
  }
}
