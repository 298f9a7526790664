/**
 * Idempotency by `source`+`id` (CloudEvents: the pair identifies an event): a key in flight or done
 * within the window gets the first call's outcome; the work runs once. Bounded: the oldest keys go first.
 */
export interface IdempotencyOptions {
  maxEntries?: number;
  ttlMs?: number;
  now?: () => number;
}

interface Entry<T> {
  promise: Promise<T>;
  at: number;
  /** Side effects done once per key (e.g. delivered to the sink). */
  marks: Set<string>;
}

export interface Once<T> {
  value: T;
  duplicate: boolean;
  mark(name: string): void;
  unmark(name: string): void;
  isMarked(name: string): boolean;
}

export class IdempotencyCache<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: IdempotencyOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#ttlMs = options.ttlMs ?? 60 * 60_000;
    this.#now = options.now ?? Date.now;
  }

  static keyOf(scope: string, source: string, id: string): string {
    return JSON.stringify([scope, source, id]);
  }

  /** Runs `work` once per key; a failure (a thrown error) is forgotten so a retry runs again. */
  async run(key: string, work: () => Promise<T>): Promise<Once<T>> {
    const now = this.#now();
    let entry = this.#entries.get(key);
    const duplicate = entry !== undefined && now - entry.at <= this.#ttlMs;
    if (entry === undefined || !duplicate) {
      const promise = work();
      const created: Entry<T> = { promise, at: now, marks: new Set() };
      entry = created;
      this.#entries.delete(key);
      this.#entries.set(key, created);
      promise.catch(() => {
        if (this.#entries.get(key) === created) this.#entries.delete(key);
      });
      this.#evict();
    }
    const marks = entry.marks;
    return {
      value: await entry.promise,
      duplicate,
      mark: (name) => marks.add(name),
      unmark: (name) => marks.delete(name),
      isMarked: (name) => marks.has(name),
    };
  }

  get size(): number {
    return this.#entries.size;
  }

  #evict(): void {
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }
}
