/**
 * The node watcher (`snapback watch`, src/watch/) as deployed: one container in the agent's DaemonSet, so
 * one per node beside the agent; the node's name from the downward API (`spec.nodeName`), since every
 * notice it sends names this node; its record of notices sent on a hostPath volume mounted writable, so
 * "once per notice" survives a new container and a new pod on the node; its K_SINK from a SinkBinding
 * whose subject is that DaemonSet and whose sink is the base's Broker. That the type it sends reaches the
 * preemption function is checked with the Triggers (routing.ts).
 */
import { isAbsolute, relative } from 'node:path';
import { watchOptions } from '../../src/cli/watch-options.js';
import { SINK_BINDING_ENV, type SnapbackContainer, sinkBindingSpecOf, volumesOf } from './containers.js';
import { describe, type Manifest, type Problem } from './load.js';

const STATE_DIR_ENV = watchOptions.stateDir.env;

function within(path: string, mount: string): boolean {
  const rel = relative(mount, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

export function checkWatcher(
  manifests: readonly Manifest[],
  containers: readonly SnapbackContainer[],
  problems: Problem[],
): void {
  const watchers = containers.filter((c) => c.container.args?.[0] === 'watch');
  const agent = containers.find((c) => c.container.args?.[0] === 'agent');
  const watcher = watchers[0];
  if (watchers.length !== 1 || watcher === undefined) {
    problems.push({ where: 'watch', message: 'the base must run exactly one `snapback watch` container' });
    return;
  }
  const say = (message: string) =>
    problems.push({ where: watcher.where, message: `container ${watcher.container.name}: ${message}` });
  if (
    agent === undefined ||
    watcher.manifest !== agent.manifest ||
    watcher.manifest.object['kind'] !== 'DaemonSet'
  ) {
    say("must run in the agent's DaemonSet (one watcher per node)");
  }
  const nodeName = watcher.container.env?.find((e) => e.name === 'NODE_NAME');
  if (nodeName?.valueFrom?.fieldRef?.fieldPath !== 'spec.nodeName') {
    say('NODE_NAME must come from the downward API (fieldRef spec.nodeName): every notice names this node');
  }
  const stateDir = watcher.env[STATE_DIR_ENV] ?? watchOptions.stateDir.default;
  const volumes = new Map(volumesOf(watcher.manifest).map((v) => [v.name, v]));
  const mount = (watcher.container.volumeMounts ?? []).find(
    (m) => m.mountPath !== undefined && isAbsolute(stateDir) && within(stateDir, m.mountPath),
  );
  const volume = mount?.name === undefined ? undefined : volumes.get(mount.name);
  if (mount === undefined || volume?.hostPath === undefined || mount.readOnly === true) {
    say(
      `${STATE_DIR_ENV} (${stateDir}) must lie on a writable hostPath volume mount: the record of notices sent must outlive the container and the pod`,
    );
  }
  if (watcher.env[SINK_BINDING_ENV] !== undefined) return;
  if (watcher.sinkBindings.length === 0) {
    say(
      `no SinkBinding names the DaemonSet, so ${SINK_BINDING_ENV} is unset: notices would have nowhere to go`,
    );
    return;
  }
  const brokers = new Set(
    manifests
      .filter((m) => m.object['kind'] === 'Broker')
      .map((m) => (m.object['metadata'] as { name?: string } | undefined)?.name),
  );
  for (const binding of watcher.sinkBindings) {
    const ref = sinkBindingSpecOf(binding).sink?.ref;
    if (ref?.kind !== 'Broker' || !brokers.has(ref.name)) {
      problems.push({ where: describe(binding), message: "the watcher's sink must be the base's Broker" });
    }
  }
}
