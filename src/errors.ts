/**
 * The one error type of snapback. Every failure that can reach a client carries a code from a small set;
 * each edge (HTTP, gRPC, CLI) maps that code through the tables below, so a raw error never leaks out.
 */
import { status as GrpcStatus } from '@grpc/grpc-js';

export const ErrorCode = {
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  NOT_FOUND: 'NOT_FOUND',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  /** Lost a race with another writer (e.g. an agent sharing the volume): retrying may succeed. */
  ABORTED: 'ABORTED',
  FAILED_PRECONDITION: 'FAILED_PRECONDITION',
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  CANCELLED: 'CANCELLED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface SnapbackErrorOptions {
  cause?: unknown;
  /** The workflow phase that failed (e.g. `criuDump`), when there is one. */
  phase?: string;
  /** Structured details a client may act on (e.g. each invalid field). */
  details?: readonly ErrorDetail[];
}

export interface ErrorDetail {
  /** What was wrong: a field path, a flag, a file. */
  field: string;
  message: string;
}

export class SnapbackError extends Error {
  override readonly name = 'SnapbackError';
  readonly code: ErrorCode;
  readonly phase: string | undefined;
  readonly details: readonly ErrorDetail[];

  constructor(code: ErrorCode, message: string, options: SnapbackErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.phase = options.phase;
    this.details = options.details ?? [];
  }

  /** The same error attributed to a phase, unless it already names one. */
  inPhase(phase: string): SnapbackError {
    if (this.phase !== undefined) return this;
    return new SnapbackError(this.code, this.message, { cause: this.cause, phase, details: this.details });
  }

  /**
   * Turns anything thrown into a SnapbackError: aborts and timeouts keep their meaning,
   * gRPC errors keep their status, everything else becomes INTERNAL with the original as cause.
   */
  static from(err: unknown, fallback: ErrorCode = ErrorCode.INTERNAL): SnapbackError {
    if (err instanceof SnapbackError) return err;
    if (err instanceof Error) {
      if (err.name === 'TimeoutError')
        return new SnapbackError(ErrorCode.DEADLINE_EXCEEDED, err.message, { cause: err });
      if (err.name === 'AbortError') {
        const reason = (err as { cause?: unknown }).cause;
        if (reason instanceof SnapbackError) return reason;
        return new SnapbackError(ErrorCode.CANCELLED, err.message, { cause: err });
      }
      const grpcCode = (err as { code?: unknown }).code;
      if (typeof grpcCode === 'number' && 'details' in err) {
        const code = fromGrpcStatus(grpcCode);
        return new SnapbackError(code, String((err as { details: unknown }).details), { cause: err });
      }
      return new SnapbackError(fallback, err.message, { cause: err });
    }
    return new SnapbackError(fallback, String(err), { cause: err });
  }

  toJSON(): { code: ErrorCode; message: string; phase?: string; details?: readonly ErrorDetail[] } {
    return {
      code: this.code,
      message: this.message,
      ...(this.phase === undefined ? {} : { phase: this.phase }),
      ...(this.details.length === 0 ? {} : { details: this.details }),
    };
  }
}

/** HTTP status per code, after grpc-gateway's mapping (CANCELLED is nginx's 499: client closed request). */
export const httpStatusOf: Readonly<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  ABORTED: 409,
  FAILED_PRECONDITION: 412,
  DEADLINE_EXCEEDED: 504,
  CANCELLED: 499,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

export const grpcStatusOf: Readonly<Record<ErrorCode, GrpcStatus>> = {
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  ABORTED: GrpcStatus.ABORTED,
  FAILED_PRECONDITION: GrpcStatus.FAILED_PRECONDITION,
  DEADLINE_EXCEEDED: GrpcStatus.DEADLINE_EXCEEDED,
  CANCELLED: GrpcStatus.CANCELLED,
  UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  INTERNAL: GrpcStatus.INTERNAL,
};

/** CLI exit status per code: 2 is reserved for usage errors, as most CLIs do. */
export const exitCodeOf: Readonly<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 2,
  NOT_FOUND: 3,
  ALREADY_EXISTS: 4,
  ABORTED: 9,
  FAILED_PRECONDITION: 5,
  DEADLINE_EXCEEDED: 6,
  CANCELLED: 7,
  UNAVAILABLE: 8,
  INTERNAL: 1,
};

/** gRPC codes that have no code of their own here collapse into the nearest meaning. */
export function fromGrpcStatus(code: number): ErrorCode {
  for (const [ours, theirs] of Object.entries(grpcStatusOf)) {
    if (theirs === code) return ours as ErrorCode;
  }
  if (code === GrpcStatus.PERMISSION_DENIED || code === GrpcStatus.UNAUTHENTICATED)
    return ErrorCode.FAILED_PRECONDITION;
  if (code === GrpcStatus.OUT_OF_RANGE) return ErrorCode.INVALID_ARGUMENT;
  if (code === GrpcStatus.RESOURCE_EXHAUSTED) return ErrorCode.UNAVAILABLE;
  return ErrorCode.INTERNAL;
}

/**
 * Messages safe to show a client: an internal error says nothing about internals (the log has them), only
 * the phase it happened in, which rollback steps ran (the caller needs both to know what state it is in)
 * and, when the edge logged it under one, the incident id that finds the log line with the cause.
 */
export function publicMessage(err: SnapbackError, incident?: string): string {
  if (err.code !== ErrorCode.INTERNAL) return err.message;
  const phase = err.phase === undefined ? '' : ` during ${err.phase}`;
  const rollback = err.details.filter((d) => d.field === 'rollback').map((d) => d.message);
  const logged = incident === undefined ? '' : `; the agent logged the cause as incident ${incident}`;
  return `internal error${phase}${rollback.length > 0 ? ` (rolled back: ${rollback.join(', ')})` : ''}${logged}`;
}
