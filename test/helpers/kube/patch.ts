/**
 * The patch types client-node sends (its `PatchStrategy`), applied as the API server applies them:
 * - `application/json-patch+json`: RFC 6902 (add, remove, replace, move, copy, test; `-` appends);
 * - `application/merge-patch+json`: RFC 7386 (null deletes, objects merge, everything else replaces);
 * - `application/strategic-merge-patch+json`: a merge patch in which the lists Kubernetes declares with a
 *   patch merge key merge item by item on that key (conditions by `type`, container statuses by `name`, …),
 *   `$patch: delete` removes an item, and `$setElementOrder/…` directives are read and ignored
 *   (https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/).
 * Server-side apply (`application/apply-patch+yaml`) is not served: 415.
 */
import { KubeApiError } from './store.js';

export const PatchType = {
  JSON: 'application/json-patch+json',
  MERGE: 'application/merge-patch+json',
  STRATEGIC: 'application/strategic-merge-patch+json',
} as const;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

/** Lists with a patch merge key in the core/v1 types served here, by field name. */
const mergeKeys: Readonly<Record<string, string>> = {
  conditions: 'type',
  containerStatuses: 'name',
  initContainerStatuses: 'name',
  ephemeralContainerStatuses: 'name',
  containers: 'name',
  initContainers: 'name',
  ports: 'containerPort',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  podIPs: 'ip',
  addresses: 'type',
};

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key] ?? null, value);
  }
  return result;
}

function strategicList(field: string, target: Json, patch: Json[]): Json {
  const key = mergeKeys[field];
  if (key === undefined || !Array.isArray(target)) return clone(patch);
  const result = [...target];
  for (const item of patch) {
    if (!isObject(item) || item[key] === undefined)
      throw new KubeApiError(422, `${field}: every item needs ${key}`);
    const index = result.findIndex((t) => isObject(t) && t[key] === item[key]);
    const { $patch: directive, ...rest } = item;
    if (directive === 'delete') {
      if (index >= 0) result.splice(index, 1);
    } else if (index >= 0) result[index] = strategicMerge(result[index]!, rest);
    else result.push(rest);
  }
  return result;
}

export function strategicMerge(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  if (patch['$patch'] === 'replace') {
    const { $patch: _, ...rest } = patch;
    return clone(rest);
  }
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$setElementOrder/') || key === '$retainKeys') continue;
    if (value === null) delete result[key];
    else if (Array.isArray(value)) result[key] = strategicList(key, result[key] ?? null, value);
    else result[key] = strategicMerge(result[key] ?? null, value);
  }
  return result;
}

/** RFC 6901 pointer → its tokens. */
function tokensOf(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new KubeApiError(422, `invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: Json, tokens: string[], path: string): { parent: Json; last: string } {
  let node = doc;
  for (const token of tokens.slice(0, -1)) {
    const next = Array.isArray(node) ? node[Number(token)] : isObject(node) ? node[token] : undefined;
    if (next === undefined) throw new KubeApiError(422, `path ${path} does not exist`);
    node = next;
  }
  return { parent: node, last: tokens.at(-1)! };
}

function get(doc: Json, path: string): Json {
  let node: Json | undefined = doc;
  for (const token of tokensOf(path)) {
    node = Array.isArray(node) ? node[Number(token)] : isObject(node) ? node[token] : undefined;
    if (node === undefined) throw new KubeApiError(422, `path ${path} does not exist`);
  }
  return node;
}

function remove(doc: Json, path: string): Json {
  const { parent, last } = parentOf(doc, tokensOf(path), path);
  if (Array.isArray(parent)) {
    const index = Number(last);
    if (!Number.isInteger(index) || index < 0 || index >= parent.length)
      throw new KubeApiError(422, `path ${path} does not exist`);
    return parent.splice(index, 1)[0]!;
  }
  if (!isObject(parent) || !(last in parent)) throw new KubeApiError(422, `path ${path} does not exist`);
  const value = parent[last]!;
  delete parent[last];
  return value;
}

function add(doc: Json, path: string, value: Json, replace: boolean): Json {
  const tokens = tokensOf(path);
  if (tokens.length === 0) return clone(value);
  const { parent, last } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length - (replace ? 1 : 0))
      throw new KubeApiError(422, `path ${path} is out of range`);
    parent.splice(index, replace ? 1 : 0, clone(value));
  } else if (isObject(parent)) {
    if (replace && !(last in parent)) throw new KubeApiError(422, `path ${path} does not exist`);
    parent[last] = clone(value);
  } else throw new KubeApiError(422, `path ${path} does not exist`);
  return doc;
}

interface Operation {
  op?: unknown;
  path?: unknown;
  from?: unknown;
  value?: Json;
}

export function jsonPatch(target: Json, operations: unknown): Json {
  if (!Array.isArray(operations)) throw new KubeApiError(400, 'a JSON patch is an array of operations');
  let doc = clone(target);
  for (const raw of operations as Operation[]) {
    const { op, path, from, value } = raw ?? {};
    if (typeof path !== 'string') throw new KubeApiError(422, 'every operation needs a path');
    if (op === 'add') doc = add(doc, path, value ?? null, false);
    else if (op === 'replace') doc = add(doc, path, value ?? null, true);
    else if (op === 'remove') remove(doc, path);
    else if (op === 'test') {
      if (JSON.stringify(get(doc, path)) !== JSON.stringify(value))
        throw new KubeApiError(422, `test operation failed at ${path}`);
    } else if ((op === 'move' || op === 'copy') && typeof from === 'string') {
      const moved = op === 'move' ? remove(doc, from) : clone(get(doc, from));
      doc = add(doc, path, moved, false);
    } else throw new KubeApiError(422, `unsupported operation ${JSON.stringify(op)}`);
  }
  return doc;
}

/** Applies a patch body of a content type to `target`; 415 for types not served. */
export function applyPatch(contentType: string | undefined, target: unknown, body: unknown): unknown {
  const type = contentType?.split(';')[0]?.trim();
  if (type === PatchType.JSON) return jsonPatch(target as Json, body);
  if (type === PatchType.MERGE) return mergePatch(target as Json, body as Json);
  if (type === PatchType.STRATEGIC) return strategicMerge(target as Json, body as Json);
  throw new KubeApiError(
    415,
    `the body of the request was in an unknown format: ${type}`,
    'UnsupportedMediaType',
  );
}
