/** Checkpoints made directly in a store (no CRIU): a staged folder of small files with its manifest. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CheckpointStore,
  describeFiles,
  type Manifest,
  type Staging,
  writeManifest,
} from '../../src/lib/storage/index.js';

/** Stages a checkpoint of `id` (two files and a manifest) without publishing it. */
export async function stageCheckpoint(
  store: CheckpointStore,
  id: string,
  content = 'pages of memory',
): Promise<Staging> {
  const staging = await store.createStaging();
  await mkdir(join(staging.dir, 'criu'));
  await writeFile(join(staging.dir, 'criu', 'pages-1.img'), content);
  await writeFile(join(staging.dir, 'rootfs-diff.tar'), 'a tarball');
  const files = await describeFiles(staging.dir);
  const manifest: Manifest = {
    schemaVersion: 1,
    checkpointId: id,
    version: staging.uuid,
    createdAt: new Date().toISOString(),
    node: store.owner,
    runtime: 'process',
    target: { namespace: 'default', pod: id },
    workload: {},
    criu: { version: '4.2', leaveRunning: true },
    durations: {},
    sizeBytes: files.reduce((n, f) => n + f.size, 0),
    files,
  };
  await writeManifest(staging.dir, manifest);
  return staging;
}

/** Stages and publishes a checkpoint of `id`; returns its version folder. */
export async function takeCheckpoint(store: CheckpointStore, id: string, content?: string): Promise<string> {
  return store.promote(id, await stageCheckpoint(store, id, content));
}
