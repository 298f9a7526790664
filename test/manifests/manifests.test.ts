/**
 * `make manifests-check`: the knative/ base validates offline (schemas + cross-checks against the code),
 * and deliberately broken copies of it, changed in memory, fail with a problem that says what is wrong.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { before, describe, it } from 'node:test';
import { checkManifests, formatProblems, type Sources } from '../../scripts/manifests-check/index.js';
import { assertProblem, changed, knativeDir, readBase } from '../helpers/manifests.js';

let base: Sources;
const withChange = (file: string, from: string | RegExp, to: string) => changed(base, file, from, to);

describe('knative/ manifests', () => {
  before(async () => {
    base = await readBase();
  });

  it('parse, validate against the Kubernetes and Knative schemas, and agree with the code', () => {
    const problems = checkManifests(base);
    assert.deepEqual(problems, [], formatProblems(problems));
  });

  // kubectl's built-in kustomize renders the base offline; skipped where there is no kubectl.
  const kubectl = (() => {
    try {
      execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  it('render with kustomize, every image placeholder replaced', {
    skip: !kubectl && 'no kubectl here',
  }, () => {
    const rendered = execFileSync('kubectl', ['kustomize', knativeDir], { encoding: 'utf8' });
    const images = [...rendered.matchAll(/^\s*(?:- )?image: (\S+)$/gm)].map((m) => m[1]);
    assert.ok(images.length >= 5, `images: ${images.join(', ')}`);
    for (const image of images) assert.match(image!, /\//, `${image} is still a placeholder`);
  });

  describe('a broken copy fails', () => {
    it('a wrong kind', () => {
      assertProblem(
        withChange('agent.yaml', 'kind: DaemonSet', 'kind: Daemonset'),
        /no schema for .*Daemonset/,
      );
    });

    it('a field of the wrong type', () => {
      assertProblem(withChange('agent.yaml', 'hostPID: true', 'hostPID: "yes"'), /hostPID must be boolean/);
    });

    it('a Knative field of the wrong type', () => {
      assertProblem(
        withChange('functions.yaml', 'timeoutSeconds: 600', 'timeoutSeconds: 10m'),
        /timeoutSeconds/,
      );
    });

    it('YAML that does not parse', () => {
      assertProblem(withChange('broker.yaml', 'spec:', 'spec: [oops'), /broker\.yaml#0: YAML/);
    });

    it('a Trigger for a type nobody handles (an outbound type)', () => {
      assertProblem(
        withChange(
          'triggers.yaml',
          'type: io.snapback.checkpoint.requested',
          'type: io.snapback.checkpoint.completed',
        ),
        /no function handles events of type io\.snapback\.checkpoint\.completed/,
      );
    });

    it('a Trigger routing a type to the wrong function', () => {
      assertProblem(
        withChange(
          'triggers.yaml',
          'type: io.snapback.checkpoint.requested',
          'type: io.snapback.restore.requested',
        ),
        /function checkpoint does not handle events of type io\.snapback\.restore\.requested/,
      );
    });

    it('an inbound type no Trigger routes', () => {
      assertProblem(
        withChange(
          'triggers.yaml',
          'type: io.snapback.restore.requested',
          'type: io.snapback.checkpoint.requested',
        ),
        /no Trigger routes io\.snapback\.restore\.requested/,
      );
    });

    it('a filter that is not an exact type', () => {
      assertProblem(
        withChange(
          'triggers.yaml',
          '- exact: { type: dev.knative.eventing.aws-sqs }',
          '- prefix: { type: dev.knative }',
        ),
        /only exact type filters/,
      );
    });

    it('an env var nobody reads', () => {
      assertProblem(
        withChange(
          'config.yaml',
          'SNAPBACK_RUNTIME: containerd',
          'SNAPBACK_RUNTIME: containerd\n  SNAPBACK_RUNTIMES: x',
        ),
        /env SNAPBACK_RUNTIMES is read by no option of `snapback agent`/,
      );
    });

    it("the agent's variable given to the functions", () => {
      assertProblem(
        withChange('config.yaml', 'SNAPBACK_LOG_LEVEL: info', 'LOG_LEVEL: info'),
        /env LOG_LEVEL is read by no option of `snapback function`/,
      );
    });

    it('a value the agent rejects', () => {
      assertProblem(
        withChange('config.yaml', 'SNAPBACK_RUNTIME: containerd', 'SNAPBACK_RUNTIME: docker'),
        /snapback agent rejects its config: --runtime: must be one of process, containerd \(from SNAPBACK_RUNTIME\)/,
      );
    });

    it('an agent listening on loopback', () => {
      assertProblem(
        withChange('config.yaml', 'SNAPBACK_LISTEN: 0.0.0.0:7070', 'SNAPBACK_LISTEN: 127.0.0.1:7070'),
        /SNAPBACK_LISTEN must be 0\.0\.0\.0:7070/,
      );
    });

    it('agent pods the resolver cannot find', () => {
      assertProblem(
        withChange(
          'agent.yaml',
          /(template:\n {4}metadata:\n {6}labels:\n {8})app\.kubernetes\.io\/name: snapback-agent/,
          '$1app.kubernetes.io/name: agent',
        ),
        /pod labels must match app\.kubernetes\.io\/name=snapback-agent/,
      );
    });

    it('a NetworkPolicy on another port', () => {
      assertProblem(
        withChange('network-policy.yaml', 'port: 7070', 'port: 7071'),
        /no ingress rule opens the agent's port 7070/,
      );
    });

    it('a NetworkPolicy that leaves a function out', () => {
      assertProblem(
        withChange('network-policy.yaml', 'snapback.io/role: function', 'snapback.io/role: other'),
        /function pods of .*snapback-preemption may not reach port 7070/,
      );
    });

    it("a watcher that does not know its node's name from the downward API", () => {
      assertProblem(
        withChange(
          'agent.yaml',
          /(args: \[watch\]\n {10}env:\n {12}- name: NODE_NAME\n) {14}valueFrom:\n {16}fieldRef:\n {18}fieldPath: spec\.nodeName/,
          '$1              value: node-a',
        ),
        /container watch: NODE_NAME must come from the downward API/,
      );
    });

    it('a watcher whose record of notices sent would not outlive its container', () => {
      assertProblem(
        withChange(
          'agent.yaml',
          /(- name: SNAPBACK_WATCH_STATE_DIR\n {14}value: )\/var\/lib\/snapback\/watch/,
          '$1/tmp/watch',
        ),
        /SNAPBACK_WATCH_STATE_DIR \(\/tmp\/watch\) must lie on a writable hostPath volume mount/,
      );
      assertProblem(
        withChange(
          'agent.yaml',
          /(- name: watch-state\n {10})hostPath:\n {12}path: \/var\/lib\/snapback\/watch\n {12}type: DirectoryOrCreate/,
          '$1emptyDir: {}',
        ),
        /must lie on a writable hostPath volume mount/,
      );
    });

    it('a watcher without a sink: no SinkBinding names the DaemonSet', () => {
      const sources = withChange(
        'sink-binding.yaml',
        /(kind: DaemonSet\n {4}name: )snapback-agent/,
        '$1snapback-agents',
      );
      assertProblem(sources, /no SinkBinding names the DaemonSet, so K_SINK is unset/);
      assertProblem(sources, /snapback watch rejects its config: --sink: is required \(or set K_SINK\)/);
    });

    it('a watcher variable `snapback watch` does not read', () => {
      assertProblem(
        withChange('agent.yaml', '- name: SNAPBACK_WATCH_STATE_DIR', '- name: SNAPBACK_WATCH_STATEDIR'),
        /env SNAPBACK_WATCH_STATEDIR is read by no option of `snapback watch`/,
      );
    });

    it('audit-log events routed to a function that does not read them', () => {
      assertProblem(
        withChange(
          'triggers.yaml',
          /(type: google\.cloud\.audit\.log\.v1\.written\n {2}subscriber:\n {4}ref:\n {6}apiVersion: serving\.knative\.dev\/v1\n {6}kind: Service\n {6}name: )snapback-preemption/,
          '$1snapback-checkpoint',
        ),
        /function checkpoint does not handle events of type google\.cloud\.audit\.log\.v1\.written/,
      );
    });

    it('a file the kustomization does not list, and a listed file that does not exist', () => {
      const extra = new Map([
        ...base,
        ['extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n'],
      ]);
      assertProblem(extra, /extra\.yaml is not listed in resources/);
      const missing = new Map(base);
      missing.delete('broker.yaml');
      assertProblem(missing, /resources lists broker\.yaml, which does not exist/);
    });
  });
});
