/**
 * Checkpoints made durable in object storage: a 1 GiB (and a 4 GiB) workload checkpointed by an agent with
 * `--object-storage` (request → committed in the bucket), beside a raw `criu dump` and an upload of the
 * same bytes by the AWS SDK alone (lib-storage, the agent's part size and parallelism) to the same server;
 * then restored on a "new node" (a second agent with empty local storage: download, verify, CRIU restore)
 * beside a download of the same objects by the SDK alone. The server is s3rver on loopback (it writes
 * every object to this machine's disk), not a cloud's object store.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import pLimit from 'p-limit';
import { isRunning } from '../src/lib/procfs/index.js';
import { BUCKET, startObjectStorage } from '../test/helpers/object-storage.js';
import {
  type BenchAgent,
  deleteCheckpoint,
  startBenchAgent,
  startMemoryWorkload,
  stopWorkload,
  timed,
} from './agent.js';
import { rawDump, settle } from './raw-criu.js';
import { medianPhases, type Summary, summarize } from './stats.js';

/** The agent's defaults (src/cli/agent-options.ts): 16 MiB parts, 4 in flight per file, 2 files at once. */
const PART_SIZE = 16 << 20;
const QUEUE_SIZE = 4;
const FILES_AT_ONCE = 2;

export interface ObjectStoreResult {
  /** The workload's written memory. */
  mib?: number;
  sizeBytes: number;
  runs: number;
  rawDumpMs: Summary;
  sdkUploadMs: Summary;
  /** Request → committed in the bucket (the agent's checkpoint with an object-storage tier). */
  checkpointMs: Summary;
  /** Checkpoint median / the larger of the raw dump's and the SDK upload's medians. */
  checkpointRatio: number;
  sdkDownloadMs: Summary;
  /** Request → running on the new node (download, verify, CRIU restore, confirm). */
  restoreMs: Summary;
  checkpointPhases: Record<string, number>;
  restorePhases: Record<string, number>;
}

/** `work` on every item, `limit` at once (p-limit); the first failure is thrown. */
async function atOnce<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  const queue = pLimit(limit);
  await Promise.all(items.map((item) => queue(() => work(item))));
}

async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory())
      out.push(...(await filesUnder(join(dir, entry.name), `${prefix}${entry.name}/`)));
    else if (entry.isFile()) out.push(`${prefix}${entry.name}`);
  }
  return out;
}

async function keysUnder(client: S3Client, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys;
}

export async function benchObjectStore(
  dir: string,
  signal: AbortSignal,
  runs = 3,
  mib = 1024,
): Promise<ObjectStoreResult> {
  const s3 = await startObjectStorage();
  const args = ['--object-storage', `s3://${BUCKET}/bench`];
  let a: BenchAgent | undefined;
  let b: BenchAgent | undefined;
  try {
    a = await startBenchAgent(join(dir, 'node-a'), signal, args, s3.directEnv, 'node-a');
    b = await startBenchAgent(join(dir, 'node-b'), signal, args, s3.directEnv, 'node-b');
    const samples = {
      rawDump: [] as number[],
      sdkUpload: [] as number[],
      checkpoint: [] as number[],
      sdkDownload: [] as number[],
      restore: [] as number[],
    };
    const phases = { checkpoint: [] as Record<string, number>[], restore: [] as Record<string, number>[] };
    let sizeBytes = 0;
    for (let i = 0; i < runs; i++) {
      const name = `obj-${mib}m-${i}`;
      const w = await startMemoryWorkload(a, name, mib, join(dir, 'node-a'));
      const rawDir = join(dir, 'raw', name);
      await mkdir(rawDir, { recursive: true });
      const raw = async () => {
        await settle();
        const [, dumpMs] = await timed(() => rawDump(w.pid, rawDir));
        const files = await filesUnder(rawDir);
        await settle();
        const [, uploadMs] = await timed(() =>
          atOnce(files, FILES_AT_ONCE, async (file) => {
            await new Upload({
              client: s3.client,
              params: {
                Bucket: BUCKET,
                Key: `sdk/${name}/${file}`,
                Body: createReadStream(join(rawDir, file)),
              },
              partSize: PART_SIZE,
              queueSize: QUEUE_SIZE,
            }).done();
          }),
        );
        samples.rawDump.push(dumpMs);
        samples.sdkUpload.push(uploadMs);
      };
      const agent = a;
      const checkpoint = async () => {
        await settle();
        const [result, ms] = await timed(() =>
          agent.client.checkpoint({
            target: { namespace: 'default', pod: name },
            checkpointId: name,
            leaveRunning: true,
          }),
        );
        samples.checkpoint.push(ms);
        phases.checkpoint.push(result.durationsMs);
        sizeBytes = Number(result.sizeBytes);
        return result;
      };
      // Turns, as in bench/pipeline.ts.
      let version: string;
      if (i % 2 === 0) {
        await raw();
        version = (await checkpoint()).version;
      } else {
        version = (await checkpoint()).version;
        await raw();
      }
      await stopWorkload(a, name);
      const prefix = `bench/${name}/${version}/`;
      const downloadDir = join(dir, 'download', name);
      await settle();
      const [, downloadMs] = await timed(() =>
        keysUnder(s3.client, prefix).then((keys) =>
          atOnce(keys, FILES_AT_ONCE, async (key) => {
            const path = join(downloadDir, key.slice(prefix.length));
            await mkdir(join(path, '..'), { recursive: true });
            const got = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
            await pipeline(got.Body as NodeJS.ReadableStream, createWriteStream(path));
          }),
        ),
      );
      samples.sdkDownload.push(downloadMs);
      await rm(downloadDir, { recursive: true, force: true });
      await settle();
      const [restored, restoreMs] = await timed(() => b!.client.restore({ checkpointId: name }));
      if (!(await isRunning(restored.restoredPid))) throw new Error('restore on the new node: not running');
      samples.restore.push(restoreMs);
      phases.restore.push(restored.durationsMs);
      await stopWorkload(b, name);
      await deleteCheckpoint(b, name);
      await atOnce(await keysUnder(s3.client, `sdk/${name}/`), 8, async (key) => {
        await s3.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
      });
      await rm(rawDir, { recursive: true, force: true });
    }
    const s = {
      rawDumpMs: summarize(samples.rawDump),
      sdkUploadMs: summarize(samples.sdkUpload),
      checkpointMs: summarize(samples.checkpoint),
      sdkDownloadMs: summarize(samples.sdkDownload),
      restoreMs: summarize(samples.restore),
    };
    return {
      mib,
      sizeBytes,
      runs,
      ...s,
      checkpointRatio: s.checkpointMs.median / Math.max(s.rawDumpMs.median, s.sdkUploadMs.median),
      checkpointPhases: medianPhases(phases.checkpoint),
      restorePhases: medianPhases(phases.restore),
    };
  } finally {
    await a?.stop();
    await b?.stop();
    await s3.close();
  }
}
