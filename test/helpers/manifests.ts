/** The knative/ base as the manifests tests read it, and copies of it changed in memory. */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import {
  checkManifests,
  formatProblems,
  readSources,
  type Sources,
} from '../../scripts/manifests-check/index.js';

export const knativeDir = fileURLToPath(new URL('../../knative', import.meta.url));
const preemptedEventsDir = fileURLToPath(
  new URL('../../knative/components/preempted-events', import.meta.url),
);

export const readBase = (): Promise<Sources> => readSources(knativeDir);

/** The base with one file changed; fails when `from` is not in that file, so no test passes vacuously. */
export function changed(base: Sources, file: string, from: string | RegExp, to: string): Sources {
  const text = base.get(file);
  assert.ok(text !== undefined, `${file} exists`);
  const result = text.replace(from, to);
  assert.notEqual(result, text, `${file} contains ${from}`);
  return new Map([...base, [file, result]]);
}

export function assertProblem(sources: Sources, pattern: RegExp): void {
  const problems = checkManifests(sources);
  const text = formatProblems(problems);
  assert.match(text, pattern, `expected a problem matching ${pattern}; got:\n${text || '(none)'}`);
}

/** The base with the preempted-events Component's resources added, as `components:` in an overlay does. */
export async function withPreemptedEvents(base: Sources): Promise<Sources> {
  const component = await readSources(preemptedEventsDir);
  const kustomization = component.get('kustomization.yaml')!;
  assert.match(kustomization, /kind: Component/);
  assert.match(kustomization, /- event-source\.yaml/);
  const listed = base
    .get('kustomization.yaml')!
    .replace('  - pod-source.yaml\n', '  - pod-source.yaml\n  - event-source.yaml\n');
  return new Map([
    ...base,
    ['kustomization.yaml', listed],
    ['event-source.yaml', component.get('event-source.yaml')!],
  ]);
}
