/** The gRPC edge: SnapbackError → status + message (+ the phase in trailing metadata). */
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { grpcStatusOf, publicMessage, SnapbackError } from '../errors.js';
import type { Logger } from '../log.js';
import { ERROR_PHASE_KEY } from './proto.js';

export function toStatus(err: unknown, log: Logger): Partial<grpc.StatusObject> & { code: grpc.status } {
  const error = SnapbackError.from(err);
  // An internal error's cause stays in this log; the caller gets the incident id that finds the line.
  const incident = error.code === 'INTERNAL' ? randomBytes(4).toString('hex') : undefined;
  if (incident !== undefined)
    log.error({ err: error.cause ?? error, phase: error.phase, incident }, 'internal error');
  const metadata = new grpc.Metadata();
  if (error.phase !== undefined) metadata.set(ERROR_PHASE_KEY, error.phase);
  return { code: grpcStatusOf[error.code], details: publicMessage(error, incident), metadata };
}

type ServerCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

/** The call's deadline, when the caller set one. */
export function callDeadline(call: ServerCall): Date | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : Number(deadline);
  return Number.isFinite(ms) && ms > 0 ? new Date(ms) : undefined;
}

/** A signal that aborts when the call is cancelled or its deadline passes, with the matching error. */
export function callAbortSignal(call: ServerCall): AbortSignal {
  const controller = new AbortController();
  const expires = callDeadline(call)?.getTime();
  const abort = () => {
    if (controller.signal.aborted) return;
    const expired = expires !== undefined && Date.now() >= expires - 5;
    controller.abort(
      new SnapbackError(
        expired ? 'DEADLINE_EXCEEDED' : 'CANCELLED',
        expired ? 'the call deadline expired' : 'the caller cancelled',
      ),
    );
  };
  call.on('cancelled', abort);
  if (expires !== undefined) {
    const timer = setTimeout(abort, Math.max(0, expires - Date.now()));
    timer.unref();
    controller.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  }
  return controller.signal;
}

/** Unary handler wrapper: errors become statuses, never raw. */
export function unary<Req, Res>(
  log: Logger,
  work: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    work(call.request, call).then(
      (response) => callback(null, response),
      (err: unknown) => callback(toStatus(err, log)),
    );
  };
}
