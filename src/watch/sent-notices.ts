/**
 * The notices a watcher has already sent, by key, in one small JSON file in its state folder, replaced
 * durably on every change (fsync, rename, fsync of the folder): a restarted watcher, or one whose
 * container was replaced on the same node, does not send them again. Bounded: the oldest keys go first.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurably } from '../lib/storage/durable.js';
import type { Logger } from '../log.js';

export const SENT_NOTICES_FILE = 'notices-sent.json';
const MAX_KEYS = 1000;

interface StateFile {
  version: 1;
  /** key → when it was sent (ISO 8601), oldest first. */
  sent: Record<string, string>;
}

export class SentNotices {
  readonly #path: string;
  readonly #sent: Map<string, string>;
  #writing: Promise<void> = Promise.resolve();

  private constructor(path: string, sent: Map<string, string>) {
    this.#path = path;
    this.#sent = sent;
  }

  /** Reads the state folder's record (creating the folder); an unreadable record is started afresh, loudly. */
  static async open(dir: string, log: Logger): Promise<SentNotices> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, SENT_NOTICES_FILE);
    let sent = new Map<string, string>();
    try {
      const state = JSON.parse(await readFile(path, 'utf8')) as StateFile;
      if (state.version !== 1 || typeof state.sent !== 'object' || state.sent === null)
        throw new Error('unknown format');
      sent = new Map(Object.entries(state.sent).filter(([, at]) => typeof at === 'string'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        log.error({ err, path }, 'cannot read the record of notices sent; starting a new one');
      }
    }
    return new SentNotices(path, sent);
  }

  has(key: string): boolean {
    return this.#sent.has(key);
  }

  get size(): number {
    return this.#sent.size;
  }

  /** Records `key` as sent, durably, before returning. */
  async record(key: string, at: Date): Promise<void> {
    this.#sent.delete(key);
    this.#sent.set(key, at.toISOString());
    while (this.#sent.size > MAX_KEYS) this.#sent.delete(this.#sent.keys().next().value as string);
    await this.#persist();
  }

  /** Forgets every key starting with `prefix` (a notice that is over). */
  async forget(prefix: string): Promise<void> {
    const gone = [...this.#sent.keys()].filter((k) => k.startsWith(prefix));
    if (gone.length === 0) return;
    for (const key of gone) this.#sent.delete(key);
    await this.#persist();
  }

  /** One write at a time, each of the whole current state. */
  #persist(): Promise<void> {
    const next = this.#writing.then(() => {
      const state: StateFile = { version: 1, sent: Object.fromEntries(this.#sent) };
      return writeFileDurably(this.#path, `${JSON.stringify(state, null, 2)}\n`);
    });
    this.#writing = next.catch(() => {});
    return next;
  }
}
