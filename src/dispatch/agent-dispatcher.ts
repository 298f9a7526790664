/**
 * How the functions reach node agents: by address, over one connection per agent (src/agent/client.ts),
 * reused across calls (deadlines propagate, progress streams, errors carry the phase).
 */
import * as grpc from '@grpc/grpc-js';
import {
  type AgentCallOptions,
  type AgentConnection,
  type CheckpointResult,
  connectAgent,
  type RestoreCallResult,
} from '../agent/client.js';
import type {
  CheckpointInfo,
  CheckpointRequest,
  DeepPartial,
  FindLatestCheckpointResponse,
  RestoreRequest,
  Target,
  Workload,
  WorkloadIdentity,
} from '../generated/snapback/agent/v1/agent.js';

export interface AgentDispatcher {
  checkpoint(
    address: string,
    request: DeepPartial<CheckpointRequest>,
    options?: AgentCallOptions,
  ): Promise<CheckpointResult>;
  /** Resolves when the process runs; a lazy restore's `pagesComplete` settles when every page is in. */
  restore(
    address: string,
    request: DeepPartial<RestoreRequest>,
    options?: AgentCallOptions,
  ): Promise<RestoreCallResult>;
  /** Process runtime: the workloads an agent runs (local mode's "pods on the node"). */
  listWorkloads(address: string, options?: AgentCallOptions): Promise<Workload[]>;
  /** The latest checkpoint a pod of `identity` can take, and why newer ones cannot (the restore loop). */
  findLatestCheckpoint(
    address: string,
    identity: WorkloadIdentity,
    options?: AgentCallOptions,
  ): Promise<FindLatestCheckpointResponse>;
  /** One checkpoint with its manifest; NOT_FOUND when there is none of that id. */
  getCheckpoint(address: string, checkpointId: string, options?: AgentCallOptions): Promise<CheckpointInfo>;
  /** Tells a placeholder's snapback-init to run the container's own command (FAILED_PRECONDITION: none waits). */
  startCold(
    address: string,
    target: DeepPartial<Target>,
    reason: string,
    options?: AgentCallOptions,
  ): Promise<void>;
  close(): void;
}

export interface AgentDispatcherOptions {
  /** Channel credentials (mTLS); insecure by default, for loopback and in-cluster plaintext. */
  credentials?: grpc.ChannelCredentials;
}

export function createAgentDispatcher(options: AgentDispatcherOptions = {}): AgentDispatcher {
  const credentials = options.credentials ?? grpc.credentials.createInsecure();
  const connections = new Map<string, AgentConnection>();
  const connectionTo = (address: string): AgentConnection => {
    let connection = connections.get(address);
    if (connection === undefined) {
      connection = connectAgent(address, credentials);
      connections.set(address, connection);
    }
    return connection;
  };
  return {
    checkpoint: (address, request, o = {}) => connectionTo(address).checkpoint(request, o),
    restore: (address, request, o = {}) => connectionTo(address).restore(request, o),
    listWorkloads: async (address, o = {}) => (await connectionTo(address).listWorkloads({}, o)).workloads,
    findLatestCheckpoint: (address, identity, o = {}) =>
      connectionTo(address).findLatestCheckpoint({ identity }, o),
    getCheckpoint: (address, checkpointId, o = {}) =>
      connectionTo(address).getCheckpoint({ checkpointId }, o),
    startCold: async (address, target, reason, o = {}) => {
      await connectionTo(address).startCold({ target, reason }, o);
    },
    close() {
      for (const connection of connections.values()) connection.close();
      connections.clear();
    },
  };
}
