/**
 * The process runtime's record of its workloads: one folder per name under the state directory, holding
 * workload.json and the workload's stdout/stderr files. It survives agent restarts, so a restarted agent
 * still knows its workloads by name.
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { isDns1123Label } from '../../ids.js';
import type { WorkloadHooks } from '../hooks/index.js';
import { startTimeOf } from '../procfs/index.js';
import { writeFileDurably } from '../storage/durable.js';

export interface WorkloadRecord {
  name: string;
  /** Host pid of the workload's root: init of its own PID namespace. What CRIU dumps. */
  pid: number;
  /**
   * The start time of `pid` (procfs, clock ticks since boot), read by the registry whenever the record is
   * written: with the pid, it names the process, so that a pid the kernel reuses is never taken for the
   * workload. Absent when the process was already gone then (or the record is older than this field):
   * such a record's workload is not running.
   */
  startTime?: number;
  command: string[];
  cwd: string;
  stdoutPath: string;
  stderrPath: string;
  startedAt: string;
  restoredFrom?: string;
  /** `snapback run --pre-checkpoint/--post-restore`: run by every checkpoint and restore of the workload. */
  hooks?: WorkloadHooks;
}

export function assertWorkloadName(name: string): string {
  if (!isDns1123Label(name)) {
    throw new SnapbackError(
      ErrorCode.INVALID_ARGUMENT,
      `workload name "${JSON.stringify(name).slice(1, -1)}" must be a DNS-1123 label (lowercase letters, digits, "-", at most 63)`,
      { details: [{ field: 'name', message: 'must be a DNS-1123 label' }] },
    );
  }
  return name;
}

export interface WorkloadRegistry {
  dirOf(name: string): string;
  get(name: string): Promise<WorkloadRecord | undefined>;
  /** Writes the record with the start time its pid has now; returns what was written. */
  put(record: WorkloadRecord): Promise<WorkloadRecord>;
  list(): Promise<WorkloadRecord[]>;
  /** Removes the record (not the workload's logs): for a workload that never came to be. */
  forget(name: string): Promise<void>;
}

export function createWorkloadRegistry(stateDir: string): WorkloadRegistry {
  const root = join(stateDir, 'workloads');
  const dirOf = (name: string) => join(root, assertWorkloadName(name));
  const registry: WorkloadRegistry = {
    dirOf,
    async get(name) {
      try {
        return JSON.parse(await readFile(join(dirOf(name), 'workload.json'), 'utf8')) as WorkloadRecord;
      } catch {
        return undefined;
      }
    },
    async put(record) {
      const { startTime: _, ...rest } = record;
      const startTime = await startTimeOf(record.pid);
      const written: WorkloadRecord = startTime === undefined ? rest : { ...rest, startTime };
      await mkdir(dirOf(record.name), { recursive: true, mode: 0o700 });
      await writeFileDurably(
        join(dirOf(record.name), 'workload.json'),
        `${JSON.stringify(written, null, 2)}\n`,
      );
      return written;
    },
    async list() {
      const names = await readdir(root).catch(() => [] as string[]);
      const records = await Promise.all(names.filter(isDns1123Label).map((n) => registry.get(n)));
      return records.filter((r): r is WorkloadRecord => r !== undefined);
    },
    async forget(name) {
      await rm(join(dirOf(name), 'workload.json'), { force: true });
    },
  };
  return registry;
}
