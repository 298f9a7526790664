/**
 * The access policy under the containerd runtime, against a stand-in of containerd's API holding what
 * the CRI plugin creates for a pod: a sandbox container labelled with the pod's labels, and app
 * containers with kubelet's `io.kubernetes.*` labels and the `io.kubernetes.cri.sandbox-id` annotation.
 * (Real containerd runs in test/lib/containerd/runtime.test.ts, where containers opt in by label.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAccessPolicy } from '../../src/agent/policy.js';
import { ErrorCode, SnapbackError } from '../../src/errors.js';
import type { ContainerdClient, ContainerInfo } from '../../src/lib/containerd/index.js';
import { podOf } from '../../src/lib/containerd/index.js';

function container(id: string, labels: Record<string, string>, sandboxId?: string): ContainerInfo {
  return {
    id,
    labels,
    image: 'busybox',
    spec: sandboxId === undefined ? {} : { annotations: { 'io.kubernetes.cri.sandbox-id': sandboxId } },
    snapshotter: 'overlayfs',
    snapshotKey: id,
  };
}

/** A pod as CRI makes it: sandbox `<pod>-sandbox` with the pod labels, one app container `<pod>-app`. */
function pod(namespace: string, name: string, podLabels: Record<string, string>): ContainerInfo[] {
  const k8s = { 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': namespace };
  return [
    container(`${name}-sandbox`, { ...podLabels, ...k8s, 'io.cri-containerd.kind': 'sandbox' }),
    container(
      `${name}-app`,
      { ...k8s, 'io.kubernetes.container.name': 'app', 'io.cri-containerd.kind': 'container' },
      `${name}-sandbox`,
    ),
  ];
}

function fakeContainerd(containers: ContainerInfo[]): ContainerdClient {
  const notFound = (what: string) => new SnapbackError(ErrorCode.NOT_FOUND, `${what} not found`);
  return {
    namespace: 'k8s.io',
    socket: '/dev/null',
    async getContainer(id) {
      const found = containers.find((c) => c.id === id);
      if (found === undefined) throw notFound(`container ${id}`);
      return found;
    },
    async listContainers([filter]) {
      // Only the equality filters targets.ts writes: labels."k"=="v",…
      const terms = [...(filter ?? '').matchAll(/labels\."([^"]+)"=="([^"]*)"/g)];
      return containers.filter((c) => terms.every(([, k, v]) => c.labels[k!] === v));
    },
    getTask: async (id) => ({ containerId: id, pid: 1, status: 'RUNNING' }),
    kill: async () => {},
    snapshotMounts: async () => [],
    close: () => {},
  };
}

const client = fakeContainerd([
  ...pod('ml', 'trainer', { 'snapback.io/enabled': 'true', app: 'trainer' }),
  ...pod('ml', 'web', { app: 'web' }),
  ...pod('ml', 'off', { 'snapback.io/enabled': 'false' }),
  ...pod('kube-system', 'dns', { 'snapback.io/enabled': 'true' }),
  container('plain-in', { 'snapback.io/enabled': 'true' }),
  container('plain-out', {}),
  container(
    'orphan-app',
    { 'io.kubernetes.pod.name': 'orphan', 'io.kubernetes.pod.namespace': 'ml' },
    'gone',
  ),
]);
const policy = (allowedNamespaces: string[] = []) =>
  createAccessPolicy({ allowedNamespaces, podOf: (target) => podOf(client, target) });

async function refused(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof SnapbackError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
}

describe('access policy, containerd runtime (CRI-shaped stand-in)', () => {
  it('allows a container of an opted-in pod, pinned to the container id that was checked', async () => {
    const target = await policy().authorize({ namespace: 'ml', pod: 'trainer' });
    assert.deepEqual(target, { namespace: 'ml', pod: 'trainer', containerId: 'trainer-app' });
  });

  it('refuses a pod without the opt-in label, or with it set to anything but "true"', async () => {
    await refused(
      policy().authorize({ namespace: 'ml', pod: 'web' }),
      'FAILED_PRECONDITION',
      /pod ml\/web has not opted in: it needs the label snapback\.io\/enabled: "true" \(rule: opt-in\)/,
    );
    await refused(
      policy().authorize({ namespace: 'ml', pod: 'off' }),
      'FAILED_PRECONDITION',
      /\(it is "false"\)/,
    );
  });

  it('reads the namespace from containerd, not from the request (a container id cannot dodge the rule)', async () => {
    await refused(
      policy(['ml']).authorize({ namespace: 'ml', pod: 'dns', containerId: 'dns-app' }),
      'FAILED_PRECONDITION',
      /namespace kube-system is not one this agent may act on \(allowed: ml\) \(rule: allowed-namespaces\)/,
    );
    await refused(
      policy(['ml']).authorize({ namespace: 'ml', pod: 'dns-app' }),
      'FAILED_PRECONDITION',
      /namespace kube-system/,
    );
    assert.equal(
      (await policy(['ml']).authorize({ namespace: 'ml', pod: 'trainer' })).containerId,
      'trainer-app',
    );
  });

  it('a container outside any pod opts in by its own label; with allowed namespaces it is refused', async () => {
    assert.equal(
      (await policy().authorize({ namespace: 'default', pod: 'plain-in' })).containerId,
      'plain-in',
    );
    await refused(
      policy().authorize({ namespace: 'default', pod: 'plain-out' }),
      'FAILED_PRECONDITION',
      /container plain-out has not opted in/,
    );
    await refused(
      policy(['default']).authorize({ namespace: 'default', pod: 'plain-in' }),
      'FAILED_PRECONDITION',
      /belongs to no Kubernetes namespace/,
    );
  });

  it('a container not on this node is NOT_FOUND; one whose sandbox is gone is refused', async () => {
    await refused(
      policy().authorize({ namespace: 'ml', pod: 'elsewhere' }),
      'NOT_FOUND',
      /no container for ml\/elsewhere/,
    );
    await refused(
      policy().authorize({ namespace: 'ml', pod: 'orphan' }),
      'FAILED_PRECONDITION',
      /its pod sandbox gone is gone/,
    );
  });

  it('without a runtime that can tell (process), only the namespace rule applies', async () => {
    const processPolicy = createAccessPolicy({ allowedNamespaces: ['default'] });
    assert.deepEqual(await processPolicy.authorize({ namespace: 'default', pod: 'w' }), {
      namespace: 'default',
      pod: 'w',
    });
    await refused(
      processPolicy.authorize({ namespace: 'x', pod: 'w' }),
      'FAILED_PRECONDITION',
      /rule: allowed-namespaces/,
    );
  });
});
