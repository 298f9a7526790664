/**
 * A small client of containerd's gRPC API over its unix socket: containers, their tasks and their
 * snapshot mounts, in one containerd namespace (the `containerd-namespace` metadata header; Kubernetes'
 * CRI plugin uses `k8s.io`). The messages come from proto/containerd/, trimmed copies of upstream's.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ErrorCode, SnapbackError } from '../../errors.js';

export interface ContainerdClientOptions {
  /** containerd's gRPC socket, e.g. /run/containerd/containerd.sock. */
  socket: string;
  /** containerd namespace (`k8s.io` under Kubernetes). */
  namespace: string;
  /** Deadline of one call (default 10 s). */
  callTimeoutMs?: number;
}

export interface ContainerInfo {
  id: string;
  labels: Record<string, string>;
  image: string;
  /** The OCI runtime spec, parsed from the container's `spec` (JSON in an Any). */
  spec: OciSpec;
  snapshotter: string;
  snapshotKey: string;
}

export interface OciSpec {
  /** CRI puts `io.kubernetes.cri.sandbox-id` (the pod's sandbox container) here. */
  annotations?: Record<string, string>;
  process?: { args?: string[] };
  root?: { path?: string; readonly?: boolean };
  mounts?: { destination: string; type?: string; source?: string; options?: string[] }[];
  linux?: { namespaces?: { type: string; path?: string }[]; cgroupsPath?: string };
}

export type TaskStatus = 'UNKNOWN' | 'CREATED' | 'RUNNING' | 'STOPPED' | 'PAUSED' | 'PAUSING';

export interface TaskInfo {
  containerId: string;
  pid: number;
  status: TaskStatus;
}

export interface SnapshotMount {
  type: string;
  source: string;
  options: string[];
}

export interface ContainerdClient {
  readonly namespace: string;
  readonly socket: string;
  /** NOT_FOUND when the namespace holds no such container. */
  getContainer(id: string): Promise<ContainerInfo>;
  /** Containers matching any of `filters` (containerd filter syntax). */
  listContainers(filters: string[]): Promise<ContainerInfo[]>;
  /** The container's task (its init process); NOT_FOUND when it has none. */
  getTask(containerId: string): Promise<TaskInfo>;
  /** Signals the task's init, or every process of the container with `all`. */
  kill(containerId: string, signal: number, all: boolean): Promise<void>;
  snapshotMounts(snapshotter: string, key: string): Promise<SnapshotMount[]>;
  close(): void;
}

type Callback<T> = (err: grpc.ServiceError | null, value?: T) => void;
type Method = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: Callback<unknown>,
) => void;

/** proto/ sits at the repository root: three levels above src/lib/containerd, four above dist/src/lib/containerd. */
function findProtoDir(): string {
  for (const up of ['../../../proto/', '../../../../proto/']) {
    const path = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(`${path}/containerd/containers.proto`)) return path;
  }
  throw new Error('proto/containerd/containers.proto not found beside the snapback installation');
}

let services: Record<'containers' | 'tasks' | 'snapshots', grpc.ServiceClientConstructor> | undefined;

function loadServices(): NonNullable<typeof services> {
  if (services !== undefined) return services;
  const definition = loadSync(
    ['containerd/containers.proto', 'containerd/tasks.proto', 'containerd/snapshots.proto'],
    {
      includeDirs: [findProtoDir()],
      keepCase: false,
      longs: Number,
      enums: String,
      defaults: true,
    },
  );
  const root = grpc.loadPackageDefinition(definition) as unknown as {
    containerd: { services: Record<string, { v1: Record<string, grpc.ServiceClientConstructor> }> };
  };
  const s = root.containerd.services;
  services = {
    containers: s['containers']!.v1['Containers']!,
    tasks: s['tasks']!.v1['Tasks']!,
    snapshots: s['snapshots']!.v1['Snapshots']!,
  };
  return services;
}

/** How long a call waits for containerd to come back after failing to connect. */
const RECONNECT_GRACE_MS = 2_000;

export function createContainerdClient(options: ContainerdClientOptions): ContainerdClient {
  const { containers, tasks, snapshots } = loadServices();
  const address = `unix://${options.socket}`;
  const credentials = grpc.credentials.createInsecure();
  // One channel for the three services: they share the socket.
  // A local socket: reconnect promptly when containerd restarts instead of backing off for minutes.
  const containersClient = new containers(address, credentials, {
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 1000,
  });
  const channelOverride = containersClient.getChannel();
  const tasksClient = new tasks(address, credentials, { channelOverride });
  const snapshotsClient = new snapshots(address, credentials, { channelOverride });
  const timeoutMs = options.callTimeoutMs ?? 10_000;

  const attempt = <T>(client: grpc.Client, method: string, request: object, callOptions: grpc.CallOptions) =>
    new Promise<T>((resolve, reject) => {
      const metadata = new grpc.Metadata();
      metadata.set('containerd-namespace', options.namespace);
      const fn = (client as unknown as Record<string, Method>)[method]!.bind(client);
      fn(request, metadata, callOptions, (err, value) => (err ? reject(err) : resolve(value as T)));
    });
  // After containerd restarts, the channel is briefly not ready: a call that could not connect waits up to
  // RECONNECT_GRACE_MS for the channel and is tried once more; if it never gets ready, the first error stands.
  const call = async <T>(client: grpc.Client, method: string, request: object, what: string): Promise<T> => {
    try {
      return await attempt<T>(client, method, request, { deadline: Date.now() + timeoutMs });
    } catch (err) {
      const first = err as grpc.ServiceError;
      if (first.code !== grpc.status.UNAVAILABLE) throw toSnapbackError(first, what, options);
      const deadline = Date.now() + Math.min(RECONNECT_GRACE_MS, timeoutMs);
      const ready = await new Promise<boolean>((resolve) =>
        client.waitForReady(deadline, (e) => resolve(!e)),
      );
      if (!ready) throw toSnapbackError(first, what, options);
      try {
        return await attempt<T>(client, method, request, { deadline: Date.now() + timeoutMs });
      } catch (retry) {
        throw toSnapbackError(retry as grpc.ServiceError, what, options);
      }
    }
  };

  return {
    namespace: options.namespace,
    socket: options.socket,
    async getContainer(id) {
      const res = await call<{ container: RawContainer }>(containersClient, 'Get', { id }, `container ${id}`);
      return toContainerInfo(res.container);
    },
    async listContainers(filters) {
      const res = await call<{ containers: RawContainer[] }>(
        containersClient,
        'List',
        { filters },
        'containers',
      );
      return res.containers.map(toContainerInfo);
    },
    async getTask(containerId) {
      const res = await call<{ process: { containerId: string; pid: number; status: TaskStatus } }>(
        tasksClient,
        'Get',
        { containerId },
        `the task of container ${containerId}`,
      );
      return { containerId: res.process.containerId, pid: res.process.pid, status: res.process.status };
    },
    async kill(containerId, signal, all) {
      await call(tasksClient, 'Kill', { containerId, signal, all }, `the task of container ${containerId}`);
    },
    async snapshotMounts(snapshotter, key) {
      const res = await call<{ mounts: SnapshotMount[] }>(
        snapshotsClient,
        'Mounts',
        { snapshotter, key },
        `snapshot ${key}`,
      );
      return res.mounts.map((m) => ({ type: m.type, source: m.source, options: [...m.options] }));
    },
    close() {
      containersClient.close();
      tasksClient.close();
      snapshotsClient.close();
    },
  };
}

interface RawContainer {
  id: string;
  labels: Record<string, string>;
  image: string;
  spec: { typeUrl: string; value: Buffer } | null;
  snapshotter: string;
  snapshotKey: string;
}

function toContainerInfo(raw: RawContainer): ContainerInfo {
  let spec: OciSpec = {};
  if (raw.spec !== null && raw.spec.value.length > 0) {
    try {
      spec = JSON.parse(raw.spec.value.toString('utf8')) as OciSpec;
    } catch (err) {
      throw new SnapbackError(
        ErrorCode.INTERNAL,
        `container ${raw.id} has an OCI spec that is not JSON (${raw.spec.typeUrl})`,
        { cause: err },
      );
    }
  }
  return {
    id: raw.id,
    labels: { ...raw.labels },
    image: raw.image,
    spec,
    snapshotter: raw.snapshotter,
    snapshotKey: raw.snapshotKey,
  };
}

function toSnapbackError(
  err: grpc.ServiceError,
  what: string,
  options: ContainerdClientOptions,
): SnapbackError {
  const where = `containerd namespace ${options.namespace}`;
  switch (err.code) {
    case grpc.status.NOT_FOUND:
      return new SnapbackError(ErrorCode.NOT_FOUND, `${what} not found in ${where}`, { cause: err });
    case grpc.status.UNAVAILABLE:
      return new SnapbackError(
        ErrorCode.UNAVAILABLE,
        `containerd is not reachable at ${options.socket}: ${err.details}`,
        { cause: err },
      );
    case grpc.status.DEADLINE_EXCEEDED:
      return new SnapbackError(
        ErrorCode.DEADLINE_EXCEEDED,
        `containerd did not answer about ${what} in time`,
        { cause: err },
      );
    case grpc.status.FAILED_PRECONDITION:
      return new SnapbackError(
        ErrorCode.FAILED_PRECONDITION,
        `containerd refused (${what}): ${err.details}`,
        { cause: err },
      );
    default:
      return new SnapbackError(ErrorCode.INTERNAL, `containerd failed (${what}): ${err.details}`, {
        cause: err,
      });
  }
}
