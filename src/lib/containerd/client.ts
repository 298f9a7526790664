/**
 * A small client of containerd's gRPC API over its unix socket: containers, their tasks and their
 * snapshot mounts, in one containerd namespace (the `containerd-namespace` metadata header; Kubernetes'
 * CRI plugin uses `k8s.io`). The client is generated (scripts/gen-proto.sh) from proto/containerd/, trimmed
 * copies of upstream's files.
 */
import * as grpc from '@grpc/grpc-js';
import { ErrorCode, SnapbackError } from '../../errors.js';
import {
  type Container,
  ContainersClient,
  GetContainerRequest,
  type GetContainerResponse,
  ListContainersRequest,
  type ListContainersResponse,
} from '../../generated/containerd/containers.js';
import { MountsRequest, type MountsResponse, SnapshotsClient } from '../../generated/containerd/snapshots.js';
import { GetRequest, type GetResponse, KillRequest, TasksClient } from '../../generated/containerd/tasks.js';
import type { Empty } from '../../generated/google/protobuf/empty.js';

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

/** How long a call waits for containerd to come back after failing to connect. */
const RECONNECT_GRACE_MS = 2_000;

type Done<T> = (err: grpc.ServiceError | null, response: T) => void;
/** Starts one unary call with the metadata and options given. */
type Start<T> = (
  metadata: grpc.Metadata,
  callOptions: Partial<grpc.CallOptions>,
  done: Done<T>,
) => grpc.ClientUnaryCall;

export function createContainerdClient(options: ContainerdClientOptions): ContainerdClient {
  const address = `unix://${options.socket}`;
  const credentials = grpc.credentials.createInsecure();
  // One channel for the three services: they share the socket.
  // A local socket: reconnect promptly when containerd restarts instead of backing off for minutes.
  const containers = new ContainersClient(address, credentials, {
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 1000,
  });
  const channelOverride = containers.getChannel();
  const tasks = new TasksClient(address, credentials, { channelOverride });
  const snapshots = new SnapshotsClient(address, credentials, { channelOverride });
  const timeoutMs = options.callTimeoutMs ?? 10_000;

  /** One try: the answer, or the status containerd (or the channel) failed it with. */
  const attempt = <T>(start: Start<T>) =>
    new Promise<{ value: T } | { error: grpc.ServiceError }>((resolve) => {
      const metadata = new grpc.Metadata();
      metadata.set('containerd-namespace', options.namespace);
      start(metadata, { deadline: Date.now() + timeoutMs }, (error, value) =>
        resolve(error ? { error } : { value }),
      );
    });
  // After containerd restarts, the channel is briefly not ready: a call that could not connect waits up to
  // RECONNECT_GRACE_MS for the channel and is tried once more; if it never gets ready, the first error stands.
  const call = async <T>(client: grpc.Client, start: Start<T>, what: string): Promise<T> => {
    const first = await attempt(start);
    if ('value' in first) return first.value;
    if (first.error.code !== grpc.status.UNAVAILABLE) throw toSnapbackError(first.error, what, options);
    const deadline = Date.now() + Math.min(RECONNECT_GRACE_MS, timeoutMs);
    const ready = await new Promise<boolean>((resolve) => client.waitForReady(deadline, (e) => resolve(!e)));
    if (!ready) throw toSnapbackError(first.error, what, options);
    const retry = await attempt(start);
    if ('value' in retry) return retry.value;
    throw toSnapbackError(retry.error, what, options);
  };

  return {
    namespace: options.namespace,
    socket: options.socket,
    async getContainer(id) {
      const request = GetContainerRequest.fromPartial({ id });
      const res = await call<GetContainerResponse>(
        containers,
        (m, o, done) => containers.get(request, m, o, done),
        `container ${id}`,
      );
      if (res.container === undefined)
        throw new SnapbackError(ErrorCode.INTERNAL, `containerd answered without container ${id}`);
      return toContainerInfo(res.container);
    },
    async listContainers(filters) {
      const request = ListContainersRequest.fromPartial({ filters });
      const res = await call<ListContainersResponse>(
        containers,
        (m, o, done) => containers.list(request, m, o, done),
        'containers',
      );
      return res.containers.map(toContainerInfo);
    },
    async getTask(containerId) {
      const request = GetRequest.fromPartial({ containerId });
      const what = `the task of container ${containerId}`;
      const res = await call<GetResponse>(tasks, (m, o, done) => tasks.get(request, m, o, done), what);
      if (res.process === undefined)
        throw new SnapbackError(ErrorCode.INTERNAL, `containerd answered without ${what}`);
      const { status } = res.process;
      return {
        containerId: res.process.containerId,
        pid: res.process.pid,
        status: status === 'UNRECOGNIZED' ? 'UNKNOWN' : status,
      };
    },
    async kill(containerId, signal, all) {
      const request = KillRequest.fromPartial({ containerId, signal, all });
      await call<Empty>(
        tasks,
        (m, o, done) => tasks.kill(request, m, o, done),
        `the task of container ${containerId}`,
      );
    },
    async snapshotMounts(snapshotter, key) {
      const request = MountsRequest.fromPartial({ snapshotter, key });
      const res = await call<MountsResponse>(
        snapshots,
        (m, o, done) => snapshots.mounts(request, m, o, done),
        `snapshot ${key}`,
      );
      return res.mounts.map((m) => ({ type: m.type, source: m.source, options: [...m.options] }));
    },
    close() {
      containers.close();
      tasks.close();
      snapshots.close();
    },
  };
}

function toContainerInfo(raw: Container): ContainerInfo {
  let spec: OciSpec = {};
  if (raw.spec !== undefined && raw.spec.value.length > 0) {
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
