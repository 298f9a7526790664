/**
 * What the agent's server and its clients agree on beyond the messages, which ts-proto generates from
 * proto/snapback/agent/v1/agent.proto into src/generated/ (scripts/gen-proto.sh).
 */
import { AgentClient } from '../generated/snapback/agent/v1/agent.js';

/** The service's full name: the gRPC path prefix, and its name in grpc.health.v1. */
export const AGENT_SERVICE = AgentClient.serviceName;
/** Trailing metadata key naming the phase a failure happened in. */
export const ERROR_PHASE_KEY = 'snapback-error-phase';
