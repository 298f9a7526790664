/**
 * Label and field selectors as the API server applies them to lists and watches
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors,
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/): equality-based label
 * selectors (`a=b,c!=d,e,!f`; set-based ones are not needed here), and the field labels each kind
 * supports — anything else is the API server's 400 "field label not supported".
 */
import type { KubeObject } from './store.js';

/** `a=b,c!=d,e,!f`. */
export function matchesLabels(labels: Record<string, string> | undefined, selector: string | null): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  return selector.split(',').every((term) => {
    const t = term.trim();
    const ne = /^([^!=]+)!=(.*)$/.exec(t);
    if (ne) return l[ne[1]!] !== ne[2];
    const eq = /^([^!=]+)==?(.*)$/.exec(t);
    if (eq) return l[eq[1]!] === eq[2];
    if (t.startsWith('!')) return !(t.slice(1) in l);
    return t in l;
  });
}

type FieldGetter = (o: KubeObject) => unknown;

const at =
  (...path: string[]): FieldGetter =>
  (o) =>
    path.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], o);

const common: Record<string, FieldGetter> = {
  'metadata.name': at('metadata', 'name'),
  'metadata.namespace': at('metadata', 'namespace'),
};

/** The field labels the API server supports per kind (a subset of its own list; enough for clients here). */
export const fieldLabels: Readonly<Record<string, Record<string, FieldGetter>>> = {
  Pod: {
    ...common,
    'spec.nodeName': (p) => at('spec', 'nodeName')(p) ?? '',
    'status.phase': at('status', 'phase'),
    'status.podIP': at('status', 'podIP'),
  },
  Node: { 'metadata.name': at('metadata', 'name') },
  ReplicaSet: common,
  Event: {
    ...common,
    'involvedObject.kind': at('involvedObject', 'kind'),
    'involvedObject.namespace': at('involvedObject', 'namespace'),
    'involvedObject.name': at('involvedObject', 'name'),
    'involvedObject.uid': at('involvedObject', 'uid'),
    reason: at('reason'),
    type: at('type'),
  },
};

/** A filter for `selector`, or the API server's message when a field label is not supported. */
export function fieldFilter(kind: string, selector: string | null): ((o: KubeObject) => boolean) | string {
  if (!selector) return () => true;
  const getters = fieldLabels[kind] ?? {};
  const terms = selector.split(',').map((t) => /^([^!=]+)(!=|==|=)(.*)$/.exec(t.trim()));
  for (const term of terms) {
    if (!term || getters[term[1]!] === undefined)
      return `field label not supported: ${term?.[1] ?? selector}`;
  }
  return (o) => terms.every((t) => (String(getters[t![1]!]!(o) ?? '') === t![3]) === (t![2] !== '!='));
}
