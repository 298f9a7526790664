/**
 * Checkpoints for a person: `snapback list`'s table and `snapback inspect`'s summary, read from the
 * manifest the agent sends (src/lib/storage/manifest.ts). `--json` prints the manifest itself.
 */
import type { CheckpointInfo } from '../agent/client.js';
import { columns, formatAge, formatBytes, truncate } from '../format.js';
import { formatListener, type TcpListener } from '../lib/procfs/index.js';
import type { Manifest } from '../lib/storage/index.js';
import { formatDurations } from './client-options.js';

/** The workload a checkpoint was taken of: its name (process runtime) or namespace/pod (containerd). */
export function sourceOf(manifest: Manifest): string {
  const { namespace, pod, container } = manifest.target;
  if (manifest.runtime === 'process') return pod;
  return `${namespace}/${pod}${container ? ` (${container})` : ''}`;
}

export function manifestOf(info: CheckpointInfo): Manifest {
  return JSON.parse(info.manifestJson) as Manifest;
}

/** `snapback list`: a header, then one row per checkpoint, oldest first. */
export function checkpointTable(checkpoints: readonly CheckpointInfo[]): string {
  const rows = checkpoints
    .map((info) => ({ info, manifest: manifestOf(info) }))
    .sort((a, b) => a.info.createdAt.localeCompare(b.info.createdAt))
    .map(({ info, manifest }) => [
      info.checkpointId,
      truncate(sourceOf(manifest), 40),
      manifest.node,
      formatBytes(Number(info.sizeBytes)),
      formatAge(info.createdAt),
    ]);
  return columns([['ID', 'WORKLOAD', 'NODE', 'SIZE', 'CREATED'], ...rows]);
}

/** `snapback inspect`: what the checkpoint is of, where, how big, when, and how long each phase took. */
export function checkpointSummary(info: CheckpointInfo): string {
  const m = manifestOf(info);
  const command = Array.isArray(m.workload['command']) ? (m.workload['command'] as string[]).join(' ') : '';
  const listening = listeningOf(m);
  const rows: [string, string][] = [
    ['checkpoint', `${m.checkpointId} (version ${m.version})`],
    ['workload', `${sourceOf(m)}, ${m.runtime} runtime${command ? `: ${truncate(command, 60)}` : ''}`],
    ['node', m.node],
    ['size', `${formatBytes(m.sizeBytes)} in ${m.files.length} files`],
    ['created', `${m.createdAt} (${formatAge(m.createdAt)})`],
    ['phases', formatDurations(m.durations)],
    ['criu', `${m.criu.version}, ${m.criu.leaveRunning ? 'left running' : 'stopped after the dump'}`],
  ];
  if (m.cuda !== undefined)
    rows.push(['cuda', `pids ${m.cuda.pids.join(', ')} on ${m.cuda.gpus.join(', ') || 'no GPU named'}`]);
  if (m.identity !== undefined) {
    const { owner, ordinal, image } = m.identity;
    rows.push([
      'identity',
      `${owner.kind} ${owner.name}${ordinal === undefined ? '' : ` #${ordinal}`}, ${image}`,
    ]);
  }
  if (listening.length > 0) rows.push(['listens on', listening.join(', ')]);
  rows.push(['location', info.location]);
  return columns(rows);
}

/** The TCP addresses a process-runtime workload listened on when it was checkpointed, `host:port`. */
function listeningOf(m: Manifest): string[] {
  const listening = m.workload['listening'];
  return Array.isArray(listening) ? (listening as TcpListener[]).map(formatListener) : [];
}
