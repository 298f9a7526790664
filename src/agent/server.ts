/**
 * The agent's gRPC server: the Agent service plus the standard grpc.health.v1 service. Built from its
 * dependencies (no environment read here); `listen` binds, `close` drains running operations first.
 */
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { ErrorCode, SnapbackError } from '../errors.js';
import { AgentService } from '../generated/snapback/agent/v1/agent.js';
import { createInFlightTable, type InFlightTable } from './in-flight.js';
import { AGENT_SERVICE } from './proto.js';
import { type AgentHandlersDeps, createAgentHandlers } from './service.js';

export interface AgentGrpcServer {
  readonly server: grpc.Server;
  readonly inFlight: InFlightTable;
  /** Binds `address` (HOST:PORT, port 0 for any) and returns the bound port. */
  listen(address: string, credentials?: grpc.ServerCredentials): Promise<number>;
  /** Stops accepting calls, waits for running operations, then shuts down. */
  close(): Promise<void>;
}

export function createAgentGrpcServer(deps: Omit<AgentHandlersDeps, 'inFlight'>): AgentGrpcServer {
  const inFlight = createInFlightTable();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
  server.addService(AgentService, createAgentHandlers({ ...deps, inFlight }));
  const health = new HealthImplementation({ '': 'SERVING', [AGENT_SERVICE]: 'SERVING' });
  health.addToServer(server);
  return {
    server,
    inFlight,
    listen(address, credentials = grpc.ServerCredentials.createInsecure()) {
      return new Promise((resolve, reject) => {
        server.bindAsync(address, credentials, (err, port) => {
          if (err)
            reject(
              new SnapbackError(ErrorCode.UNAVAILABLE, `cannot listen on ${address}: ${err.message}`, {
                cause: err,
              }),
            );
          else resolve(port);
        });
      });
    },
    async close() {
      health.setStatus('', 'NOT_SERVING');
      health.setStatus(AGENT_SERVICE, 'NOT_SERVING');
      await inFlight.drain();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}
