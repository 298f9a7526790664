/**
 * Reader leases: a restore — on any agent sharing the volume — records that it reads a version
 * (`<base>/<id>/readers/<version>--<n>.json`) for as long as it does, so that a newer checkpoint of the id
 * retires the version without deleting it, and a delete is refused until the read is over. A lease whose
 * agent instance died is stale and ignored (and removed by whoever finds it).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentLease, Holder } from './agent-lease.js';
import { writeFileDurably } from './durable.js';
import type { StoragePaths } from './paths.js';

export interface ReaderRecord extends Holder {
  version: string;
  at: string;
}

export interface ReaderLeases {
  /** Records that this agent reads `version` of `id`; returns the release. */
  open(id: string, version: string): Promise<() => Promise<void>>;
  /** The live readers of `id` (of one version when given); stale leases are removed on the way. */
  live(id: string, version?: string): Promise<ReaderRecord[]>;
}

const SEPARATOR = '--';

export function createReaderLeases(paths: StoragePaths, lease: AgentLease): ReaderLeases {
  return {
    async open(id, version) {
      const dir = paths.readers(id);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const file = join(dir, `${version}${SEPARATOR}${randomUUID()}.json`);
      const record: ReaderRecord = {
        owner: lease.owner,
        instance: lease.instance,
        version,
        at: new Date().toISOString(),
      };
      await writeFileDurably(file, JSON.stringify(record));
      return () => rm(file, { force: true });
    },
    async live(id, version) {
      const dir = paths.readers(id);
      const out: ReaderRecord[] = [];
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (!name.endsWith('.json')) continue;
        if (version !== undefined && !name.startsWith(`${version}${SEPARATOR}`)) continue;
        const file = join(dir, name);
        const record = await readFile(file, 'utf8').then(
          (text) => JSON.parse(text) as ReaderRecord,
          () => undefined,
        );
        if (record !== undefined && (await lease.isAlive(record))) out.push(record);
        else await rm(file, { force: true });
      }
      return out;
    },
  };
}
