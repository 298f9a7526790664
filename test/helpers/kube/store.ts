/**
 * The loopback API server's objects: one collection per kind, a resource version that grows with every
 * change (as etcd's revision does), the recent changes kept for watches to resume from (older ones are
 * compacted away: a watch from before them gets 410 Gone), and every object written checked against the
 * Kubernetes OpenAPI schema of its kind (kubernetes-models, as scripts/manifests-check uses) — an invalid
 * write is the API server's 422.
 */
import { ReplicaSet } from 'kubernetes-models/apps/v1/ReplicaSet';
import { Event } from 'kubernetes-models/v1/Event';
import { Node } from 'kubernetes-models/v1/Node';
import { Pod } from 'kubernetes-models/v1/Pod';

export const Kind = { POD: 'Pod', NODE: 'Node', EVENT: 'Event', REPLICA_SET: 'ReplicaSet' } as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export interface Meta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Any object of the kinds served here, as JSON. */
export type KubeObject = { apiVersion?: string; kind?: string; metadata?: Meta } & Record<string, unknown>;

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change {
  type: ChangeType;
  kind: Kind;
  /** The resource version of the change. */
  rv: number;
  /** The object before a change (MODIFIED, DELETED): watches with selectors need both. */
  before?: KubeObject;
  object: KubeObject;
}

/** An API error: the HTTP status and a Status message, as the API server answers it. */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly reason = 'Invalid',
  ) {
    super(message);
  }
}

interface ModelClass {
  new (data: never): { validate(): void };
}
const models: Readonly<Record<Kind, ModelClass>> = { Pod, Node, Event, ReplicaSet };
export const apiVersionOf: Readonly<Record<Kind, string>> = {
  Pod: 'v1',
  Node: 'v1',
  Event: 'v1',
  ReplicaSet: 'apps/v1',
};

/** The schema's complaints about an object of a kind (empty: valid). */
export function schemaProblems(kind: Kind, object: unknown): string[] {
  try {
    new models[kind]({ apiVersion: apiVersionOf[kind], kind, ...(object as object) } as never).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: Array<{ instancePath: string; message?: string }> }).errors;
    if (!Array.isArray(errors)) return [(err as Error).message];
    return errors.map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
  }
}

const keyOf = (o: KubeObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
/** What a write changed, ignoring the resource version the store stamps. */
const contentOf = (o: KubeObject) =>
  JSON.stringify({ ...o, metadata: { ...o.metadata, resourceVersion: 0 } });

export class ObjectStore {
  /** Live collections: a test may push into them directly (adopted, validated and stamped on the next request). */
  readonly collections: Record<Kind, KubeObject[]> = { Pod: [], Node: [], Event: [], ReplicaSet: [] };
  readonly #listeners = new Set<(change: Change) => void>();
  readonly #content = new WeakMap<KubeObject, string>();
  #history: Change[] = [];
  #rv = 1;
  /** Changes before this resource version are forgotten (compacted). */
  #oldest = 1;
  #uids = 0;
  readonly maxHistory: number;

  constructor(maxHistory = 50_000) {
    this.maxHistory = maxHistory;
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  onChange(listener: (change: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  find(kind: Kind, namespace: string | undefined, name: string): KubeObject | undefined {
    this.adopt(kind);
    return this.collections[kind].find(
      (o) => o.metadata?.name === name && (o.metadata?.namespace ?? '') === (namespace ?? ''),
    );
  }

  /** Objects pushed straight into a collection: validated, stamped and announced as ADDED. */
  adopt(kind: Kind): void {
    for (const object of this.collections[kind]) {
      if (this.#content.has(object)) continue;
      this.#check(kind, object, (p) => new Error(`test set-up: invalid ${kind} ${keyOf(object)}: ${p}`));
      this.#stamp(object);
      this.#emit({ type: 'ADDED', kind, rv: this.#rv, object });
    }
  }

  /** A client's create: names from generateName, uid, timestamps; 409 when the name is taken. */
  create(kind: Kind, object: KubeObject): KubeObject {
    this.adopt(kind);
    object.metadata ??= {};
    const meta = object.metadata;
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${(++this.#uids).toString(36)}`;
    if (this.find(kind, meta.namespace, meta.name ?? '')) {
      throw new KubeApiError(409, `${kind.toLowerCase()}s "${meta.name}" already exists`, 'AlreadyExists');
    }
    meta.uid ??= `uid-${kind.toLowerCase()}-${++this.#uids}`;
    meta.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    this.#check(kind, object, (p) => new KubeApiError(422, p));
    this.#stamp(object);
    this.collections[kind].push(object);
    this.#emit({ type: 'ADDED', kind, rv: this.#rv, object });
    return object;
  }

  /** Replaces one stored object with its new version (a patch, a graceful delete). */
  update(kind: Kind, before: KubeObject, after: KubeObject): KubeObject {
    this.#check(kind, after, (p) => new KubeApiError(422, p));
    const list = this.collections[kind];
    const index = list.indexOf(before);
    if (index < 0) throw new KubeApiError(409, `${keyOf(before)} changed meanwhile`, 'Conflict');
    this.#stamp(after);
    list[index] = after;
    this.#emit({ type: 'MODIFIED', kind, rv: this.#rv, before, object: after });
    return after;
  }

  remove(kind: Kind, object: KubeObject): void {
    const list = this.collections[kind];
    const index = list.indexOf(object);
    if (index < 0) return;
    list.splice(index, 1);
    const gone = { ...object, metadata: { ...object.metadata, resourceVersion: String(++this.#rv) } };
    this.#emit({ type: 'DELETED', kind, rv: this.#rv, before: object, object: gone });
  }

  /** A test's `kube.pods = [...]`: what is new is ADDED, what changed MODIFIED, what is gone DELETED. */
  replaceAll(kind: Kind, next: readonly KubeObject[]): void {
    this.adopt(kind);
    const current = new Map(this.collections[kind].map((o) => [keyOf(o), o]));
    for (const object of next) {
      this.#check(kind, object, (p) => new Error(`test set-up: invalid ${kind} ${keyOf(object)}: ${p}`));
    }
    const kept = new Set<KubeObject>();
    this.collections[kind] = [...next];
    for (const object of next) {
      let before = current.get(keyOf(object));
      if (before !== undefined) kept.add(before);
      if (before === object && this.#content.get(object) === contentOf(object)) continue;
      // Changed in place: what it was is the content recorded at its last write.
      if (before === object) before = JSON.parse(this.#content.get(object) ?? '{}') as KubeObject;
      if (before !== undefined && before !== object && contentOf(before) === contentOf(object)) {
        this.#content.set(object, contentOf(object));
        object.metadata = { ...object.metadata, resourceVersion: before.metadata?.resourceVersion ?? '1' };
        continue;
      }
      this.#stamp(object);
      this.#emit(
        before === undefined
          ? { type: 'ADDED', kind, rv: this.#rv, object }
          : { type: 'MODIFIED', kind, rv: this.#rv, before, object },
      );
    }
    for (const [, before] of current) {
      if (kept.has(before)) continue;
      const gone = { ...before, metadata: { ...before.metadata, resourceVersion: String(++this.#rv) } };
      this.#emit({ type: 'DELETED', kind, rv: this.#rv, before, object: gone });
    }
  }

  /** The changes after `rv`, or `expired` when some of them were compacted away (410 Gone). */
  changesSince(rv: number): Change[] | 'expired' {
    if (rv + 1 < this.#oldest) return 'expired';
    return this.#history.filter((c) => c.rv > rv);
  }

  /**
   * Forgets every change so far, as etcd compaction does after other writes moved the revision on: every
   * client's resource version is then too old, and a watch resuming from it gets 410.
   */
  compact(): void {
    this.#history = [];
    this.#rv += 1;
    this.#oldest = this.#rv + 1;
  }

  #check(kind: Kind, object: KubeObject, error: (problems: string) => Error): void {
    const problems = schemaProblems(kind, object);
    if (problems.length > 0)
      throw error(`${kind} "${object.metadata?.name ?? ''}" is invalid: ${problems.join(', ')}`);
  }

  #stamp(object: KubeObject): void {
    object.metadata = { ...object.metadata, resourceVersion: String(++this.#rv) };
    this.#content.set(object, contentOf(object));
  }

  #emit(change: Change): void {
    this.#history.push(change);
    if (this.#history.length > this.maxHistory) {
      const dropped = this.#history.splice(0, this.#history.length - this.maxHistory);
      this.#oldest = dropped.at(-1)!.rv + 1;
    }
    for (const listener of this.#listeners) listener(change);
  }
}
