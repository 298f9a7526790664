/**
 * The manifests of pod-level disruption and of resolution from informers against the code: the
 * ApiServerSources (Resource mode, kinds the preemption function reads, the Pod resource selecting exactly
 * the opted-in pods, their RBAC, the add route), the functions' RBAC for their informers, and the optional
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
        withChange('functions-rbac.yaml', 'verbs: [get, list, watch]', 'verbs: [get, list]'),
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
      assertProblem(
        withChange(
          'triggers.yaml',
          'type: dev.knative.apiserver.resource.add',
          'type: dev.knative.apiserver.resource.update',
        ),
        /no Trigger routes dev\.knative\.apiserver\.resource\.add to a function/,
      );
    });
  });
});
