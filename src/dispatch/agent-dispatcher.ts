/**
 * The functions' client of node agents: one channel per agent address, reused across calls, over the
 * typed calls of src/agent/client.ts (deadlines propagate, progress streams, errors carry the phase).
 */
import * as grpc from '@grpc/grpc-js';
import {
  type CallOptions,
  type CheckpointResult,
  checkpointCall,
  connectAgent,
  type AgentClient as GeneratedAgentClient,
  type Progress,
  type RestoreOutcome,
  type RestoreResult,
  restoreCall,
  unaryCall,
} from '../agent/client.js';
import type { CheckpointRequest } from '../agent/generated/snapback/agent/v1/CheckpointRequest.js';
import type { RestoreRequest } from '../agent/generated/snapback/agent/v1/RestoreRequest.js';
import type { Workload__Output } from '../agent/generated/snapback/agent/v1/Workload.js';

export type {
  CheckpointRequest,
  CheckpointResult as CheckpointResult__Output,
  Progress as Progress__Output,
  RestoreRequest,
  RestoreResult as RestoreResult__Output,
};
export type AgentCallOptions = CallOptions;

export interface AgentClient {
  checkpoint(
    address: string,
    request: CheckpointRequest,
    options?: AgentCallOptions,
  ): Promise<CheckpointResult>;
  /** Resolves when the process runs; a lazy restore's `pagesComplete` settles when every page is in. */
  restore(address: string, request: RestoreRequest, options?: AgentCallOptions): Promise<RestoreOutcome>;
  /** Process runtime: the workloads an agent runs (local mode's "pods on the node"). */
  listWorkloads(address: string, options?: AgentCallOptions): Promise<Workload__Output[]>;
  close(): void;
}

export interface AgentClientOptions {
  /** Channel credentials (mTLS); insecure by default, for loopback and in-cluster plaintext. */
  credentials?: grpc.ChannelCredentials;
}

export function createAgentClient(options: AgentClientOptions = {}): AgentClient {
  const credentials = options.credentials ?? grpc.credentials.createInsecure();
  const clients = new Map<string, GeneratedAgentClient>();
  const clientFor = (address: string): GeneratedAgentClient => {
    let client = clients.get(address);
    if (client === undefined) {
      client = connectAgent(address, credentials);
      clients.set(address, client);
    }
    return client;
  };
  return {
    checkpoint: (address, request, o = {}) => checkpointCall(clientFor(address), request, o),
    restore: (address, request, o = {}) => restoreCall(clientFor(address), request, o),
    listWorkloads: async (address, o = {}) =>
      (await unaryCall(clientFor(address), 'ListWorkloads', {}, o)).workloads,
    close() {
      for (const client of clients.values()) client.close();
      clients.clear();
    },
  };
}
