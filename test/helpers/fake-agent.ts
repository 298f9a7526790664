/**
 * A fake node agent: a real grpc-js server on 127.0.0.1:0 implementing the Agent contract, with behaviour
 * the test controls per request (success with durations, failure with a status and phase, slowness).
 */
import * as grpc from '@grpc/grpc-js';
import { ERROR_PHASE_KEY } from '../../src/agent/proto.js';
import {
  type AgentServer,
  AgentService,
  CheckpointInfo,
  type CheckpointRequest,
  CheckpointResult,
  type FindLatestCheckpointRequest,
  Progress,
  type RestoreRequest,
  RestoreResult,
  type StartColdRequest,
  type Workload,
} from '../../src/generated/snapback/agent/v1/agent.js';

export type Behaviour =
  /** `said`: progress messages sent before the result (a hook skipped, …). */
  | { kind: 'ok'; delayMs?: number; said?: Array<{ phase: string; message: string }> }
  | { kind: 'fail'; code: grpc.status; phase: string; message: string }
  | { kind: 'hang' };

export interface FakeAgent {
  address: string;
  node: string;
  checkpoints: Array<{
    request: CheckpointRequest;
    deadline: grpc.Deadline;
    metadata: grpc.Metadata;
  }>;
  restores: RestoreRequest[];
  behaviour: (request: CheckpointRequest | RestoreRequest) => Behaviour;
  workloads: Workload[];
  /** Checkpoints it holds, by id: FindLatestCheckpoint answers the newest (last) of them, GetCheckpoint each. */
  stored: Array<{ checkpointId: string; identity?: unknown }>;
  findLatest: FindLatestCheckpointRequest[];
  /** What FindLatestCheckpoint says of newer checkpoints that do not fit. */
  passedOver: string[];
  startColds: StartColdRequest[];
  /** StartCold's answer: ok, or a status (FAILED_PRECONDITION: no init waits). */
  startColdStatus: grpc.status;
  close(): Promise<void>;
}

const agentDurations = {
  inspect: 3,
  configure: 1,
  cudaLock: 0,
  cudaCheckpoint: 0,
  criuDump: 40,
  rootfs: 5,
  promote: 1,
  total: 52,
};

function fail(
  call: grpc.ServerWritableStream<unknown, unknown>,
  b: Extract<Behaviour, { kind: 'fail' }>,
): void {
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_PHASE_KEY, b.phase);
  call.emit('error', { code: b.code, details: b.message, metadata });
}

export async function startFakeAgent(node: string): Promise<FakeAgent> {
  const server = new grpc.Server();
  const agent: FakeAgent = {
    address: '',
    node,
    checkpoints: [],
    restores: [],
    workloads: [],
    behaviour: () => ({ kind: 'ok' }),
    stored: [],
    findLatest: [],
    passedOver: [],
    startColds: [],
    startColdStatus: grpc.status.OK,
    close: () =>
      new Promise((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
  const info = (c: FakeAgent['stored'][number]) =>
    CheckpointInfo.fromPartial({
      checkpointId: c.checkpointId,
      manifestJson: JSON.stringify({ checkpointId: c.checkpointId, identity: c.identity }),
    });
  const handlers: Pick<
    AgentServer,
    'checkpoint' | 'restore' | 'listWorkloads' | 'findLatestCheckpoint' | 'getCheckpoint' | 'startCold'
  > = {
    checkpoint(call) {
      agent.checkpoints.push({
        request: call.request,
        deadline: call.getDeadline(),
        metadata: call.metadata,
      });
      const b = agent.behaviour(call.request);
      if (b.kind === 'hang') return;
      if (b.kind === 'fail') return fail(call, b);
      setTimeout(() => {
        if (call.cancelled) return;
        for (const { phase, message } of b.said ?? [])
          call.write({ progress: Progress.fromPartial({ phase, state: 'FINISHED', message }) });
        call.write({ progress: Progress.fromPartial({ phase: 'criuDump', state: 'STARTED' }) });
        const id = call.request.checkpointId;
        call.write({
          result: CheckpointResult.fromPartial({
            checkpointId: id,
            location: `/var/snapback/${id}`,
            sizeBytes: 4096,
            durationsMs: agentDurations,
            node,
          }),
        });
        call.end();
      }, b.delayMs ?? 0);
    },
    restore(call) {
      agent.restores.push(call.request);
      const b = agent.behaviour(call.request);
      if (b.kind === 'hang') return;
      if (b.kind === 'fail') return fail(call, b);
      setTimeout(() => {
        if (call.cancelled) return;
        call.write({
          result: RestoreResult.fromPartial({
            checkpointId: call.request.checkpointId,
            restoredPid: 4242,
            durationsMs: { setup: 2, criuRestore: 30, total: 35 },
            node,
          }),
        });
        call.end();
      }, b.delayMs ?? 0);
    },
    listWorkloads(_call, callback) {
      callback(null, { workloads: agent.workloads });
    },
    findLatestCheckpoint(call, callback) {
      agent.findLatest.push(call.request);
      const latest = agent.stored.at(-1);
      callback(null, { checkpoint: latest && info(latest), passedOver: agent.passedOver });
    },
    getCheckpoint(call, callback) {
      const found = agent.stored.find((c) => c.checkpointId === call.request.checkpointId);
      if (found === undefined) callback({ code: grpc.status.NOT_FOUND, details: 'no checkpoint' }, null);
      else callback(null, info(found));
    },
    startCold(call, callback) {
      agent.startColds.push(call.request);
      if (agent.startColdStatus === grpc.status.OK) callback(null, {});
      else callback({ code: agent.startColdStatus, details: 'no snapback-init waits' }, null);
    },
  };
  // The calls these tests never make are answered UNIMPLEMENTED by grpc-js.
  server.addService(AgentService, handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  agent.address = `127.0.0.1:${port}`;
  return agent;
}
