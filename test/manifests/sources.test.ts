/**
 * The manifests of pod-level disruption, of the restore loop and of resolution from informers against the
 * code: the ApiServerSources (Resource mode, every event they send routed to a function that reads it, the
 * Pod resources selecting exactly the pods that opted in, their RBAC), the Triggers that keep the restore
 * source's events apart, the functions' RBAC for their informers and the pod writes, and the optional
 * preempted-events Component added to the base as an overlay would.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { checkManifests, formatProblems, type Sources } from '../../scripts/manifests-check/index.js';
import { assertProblem, changed, readBase, withPreemptedEvents } from '../helpers/manifests.js';

let base: Sources;
const withChange = (file: string, from: string | RegExp, to: string) => changed(base, file, from, to);

describe('knative/ sources and RBAC against the code', () => {
  before(async () => {
    base = await readBase();
  });

  it('with the preempted-events component, as an overlay adds it, still do', async () => {
    const sources = await withPreemptedEvents(base);
    const problems = checkManifests(sources);
    assert.deepEqual(problems, [], formatProblems(problems));
    const broken = new Map(sources);
    broken.set(
      'event-source.yaml',
      sources.get('event-source.yaml')!.replace('verbs: [get, list, watch]', 'verbs: [get]'),
    );
    assertProblem(
      broken,
      /ServiceAccount snapback-event-source may not list, watch events, which the source watches/,
    );
  });

  describe('a broken copy fails', () => {
    it('functions whose ServiceAccount may not watch what their informers watch', () => {
      assertProblem(
        withChange('functions-rbac.yaml', 'verbs: [get, list, watch, patch]', 'verbs: [get, list, patch]'),
        /ServiceAccount snapback-functions may not watch pods, which the functions do/,
      );
      assertProblem(
        withChange('functions-rbac.yaml', 'verbs: [list, watch]', 'verbs: [list]'),
        /may not watch nodes/,
      );
      assertProblem(
        withChange('functions-rbac.yaml', 'apiGroups: [apps]', 'apiGroups: [extensions]'),
        /may not get replicasets, which the functions do/,
      );
    });

    it('a pod source that would send every pod, or pods that did not opt in', () => {
      assertProblem(
        withChange(
          'pod-source.yaml',
          /\n {6}selector:\n {8}matchLabels:\n {10}snapback\.io\/enabled: "true"/,
          '',
        ),
        /the Pod resource must select exactly snapback\.io\/enabled: "true"/,
      );
      assertProblem(
        withChange('pod-source.yaml', 'snapback.io/enabled: "true"', 'app: trainer'),
        /must select exactly snapback\.io\/enabled/,
      );
    });

    it('a source of objects the function does not read, in Ref mode, or without the rights to watch them', () => {
      assertProblem(
        withChange('pod-source.yaml', 'kind: Pod', 'kind: ConfigMap'),
        /does not read ConfigMap objects/,
      );
      assertProblem(
        withChange('pod-source.yaml', 'mode: Resource', 'mode: Reference'),
        /mode must be Resource/,
      );
      assertProblem(
        withChange(
          'pod-source.yaml',
          /(resources: \[pods\]\n {4}verbs: )\[get, list, watch\]/,
          '$1[get, list]',
        ),
        /ServiceAccount snapback-pod-source may not watch pods, which the source watches/,
      );
    });

    it('pods that appear already disrupted, routed nowhere', () => {
      const broken = withChange(
        'triggers.yaml',
        '- exact: { type: dev.knative.apiserver.resource.add }',
        '- exact: { type: dev.knative.apiserver.resource.update }',
      );
      assertProblem(broken, /no Trigger routes dev\.knative\.apiserver\.resource\.add to a function/);
      assertProblem(
        broken,
        /snapback-pods: its Pod dev\.knative\.apiserver\.resource\.add events reach no Trigger/,
      );
    });

    it('a restore source whose events are not marked, or that selects other pods', () => {
      assertProblem(
        withChange(
          'restore-source.yaml',
          /\n {2}ceOverrides:\n {4}extensions:\n {6}snapbackfor: restore/,
          '',
        ),
        /snapback-restore-pods: the Pod resource must select exactly snapback\.io\/enabled/,
      );
      assertProblem(
        withChange('restore-source.yaml', 'key: snapback.io/restore', 'key: snapback.io/enabled'),
        /the Pod resource of the restore source must select exactly the pods with the label snapback\.io\/restore/,
      );
    });

    it("the restore source's events routed to the preemption function, or not to the restore function", () => {
      assertProblem(
        withChange('triggers.yaml', /\n {4}- not: \{ exact: \{ snapbackfor: restore \} \}/, ''),
        /Trigger preemption-node-updated routes its Pod dev\.knative\.apiserver\.resource\.update events to function preemption, which does not read Pod objects/,
      );
      assertProblem(
        withChange('triggers.yaml', /(resource\.add)\n {6}snapbackfor: restore/, '$1'),
        /restore-pod-added: function restore does not handle events of type dev\.knative\.apiserver\.resource\.add/,
      );
      assertProblem(
        withChange(
          'triggers.yaml',
          /(resource\.update)\n {6}snapbackfor: restore/,
          '$1\n      snapbackfor: restored',
        ),
        /snapback-restore-pods: its Pod dev\.knative\.apiserver\.resource\.update events reach no Trigger/,
      );
      assertProblem(
        withChange(
          'triggers.yaml',
          '- not: { exact: { snapbackfor: restore } }',
          '- not: { prefix: { type: x } }',
        ),
        /only exact type filters are allowed/,
      );
    });

    it('functions that may not write the restore status or the readiness condition on a pod', () => {
      assertProblem(
        withChange(
          'functions-rbac.yaml',
          /resources: \[pods\/status\]\n {4}verbs: \[patch\]/,
          'resources: [pods/status]\n    verbs: [get]',
        ),
        /may not patch pods\/status, which the functions do/,
      );
      assertProblem(
        withChange('functions-rbac.yaml', 'verbs: [get, list, watch, patch]', 'verbs: [get, list, watch]'),
        /may not patch pods, which the functions do/,
      );
    });
  });
});
