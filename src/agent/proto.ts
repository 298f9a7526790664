/**
 * The agent's gRPC contract, loaded once from proto/ with @grpc/proto-loader and typed with the types
 * generated from the same file (scripts/gen-proto.sh): server and clients share this one definition.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { ProtoGrpcType } from './generated/agent.js';

export const AGENT_SERVICE = 'snapback.agent.v1.Agent';
/** Trailing metadata key naming the phase a failure happened in. */
export const ERROR_PHASE_KEY = 'snapback-error-phase';

/** proto/ sits at the repository root: two levels above src/agent, three above dist/src/agent. */
function findProtoDir(): string {
  for (const up of ['../../proto/', '../../../proto/']) {
    const path = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(`${path}/snapback/agent/v1/agent.proto`)) return path;
  }
  throw new Error('proto/snapback/agent/v1/agent.proto not found beside the snapback installation');
}

const definition = loadSync('snapback/agent/v1/agent.proto', {
  includeDirs: [findProtoDir()],
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});

export const agentProto = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
export const agentService = agentProto.snapback.agent.v1.Agent.service;
export type { AgentClient, AgentHandlers } from './generated/snapback/agent/v1/Agent.js';
