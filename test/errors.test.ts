import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import {
  ErrorCode,
  exitCodeOf,
  fromGrpcStatus,
  grpcStatusOf,
  httpStatusOf,
  publicMessage,
  SnapbackError,
} from '../src/errors.js';

describe('error mapping tables', () => {
  it('give every code an HTTP status, a gRPC status and an exit status', () => {
    for (const code of Object.values(ErrorCode)) {
      assert.equal(typeof httpStatusOf[code], 'number', code);
      assert.equal(typeof grpcStatusOf[code], 'number', code);
      assert.equal(typeof exitCodeOf[code], 'number', code);
    }
  });

  it('map client errors to 4xx and server errors to 5xx', () => {
    assert.equal(httpStatusOf.INVALID_ARGUMENT, 400);
    assert.equal(httpStatusOf.NOT_FOUND, 404);
    assert.equal(httpStatusOf.ALREADY_EXISTS, 409);
    assert.equal(httpStatusOf.FAILED_PRECONDITION, 412);
    assert.equal(httpStatusOf.DEADLINE_EXCEEDED, 504);
    assert.equal(httpStatusOf.UNAVAILABLE, 503);
    assert.equal(httpStatusOf.INTERNAL, 500);
  });

  it('round-trip through gRPC status codes', () => {
    for (const code of Object.values(ErrorCode)) assert.equal(fromGrpcStatus(grpcStatusOf[code]), code);
    assert.equal(grpcStatusOf.DEADLINE_EXCEEDED, status.DEADLINE_EXCEEDED);
    assert.equal(fromGrpcStatus(status.PERMISSION_DENIED), ErrorCode.FAILED_PRECONDITION);
    assert.equal(fromGrpcStatus(status.UNKNOWN), ErrorCode.INTERNAL);
  });

  it('reserve exit status 2 for bad input', () => {
    assert.equal(exitCodeOf.INVALID_ARGUMENT, 2);
    const others = Object.entries(exitCodeOf).filter(([c]) => c !== 'INVALID_ARGUMENT');
    assert.ok(others.every(([, n]) => n !== 0 && n !== 2));
  });
});

describe('SnapbackError.from', () => {
  it('keeps aborts and timeouts meaningful', () => {
    const timeout = new DOMException('timed out', 'TimeoutError');
    assert.equal(SnapbackError.from(timeout).code, ErrorCode.DEADLINE_EXCEEDED);
    const abort = new DOMException('aborted', 'AbortError');
    assert.equal(SnapbackError.from(abort).code, ErrorCode.CANCELLED);
  });

  it('maps gRPC service errors by status and keeps their details', () => {
    const err = Object.assign(new Error('14 UNAVAILABLE: no connection'), {
      code: status.UNAVAILABLE,
      details: 'no connection',
    });
    const mapped = SnapbackError.from(err);
    assert.equal(mapped.code, ErrorCode.UNAVAILABLE);
    assert.equal(mapped.message, 'no connection');
    assert.equal(mapped.cause, err);
  });

  it('wraps anything else as INTERNAL and hides it from clients', () => {
    const mapped = SnapbackError.from(new Error('secret path /var/lib/x'));
    assert.equal(mapped.code, ErrorCode.INTERNAL);
    assert.equal(publicMessage(mapped), 'internal error');
    const inPhase = new SnapbackError(ErrorCode.INTERNAL, 'criu said /secret/path', {
      phase: 'criuDump',
      details: [{ field: 'rollback', message: 'cuda unlock 42' }],
    });
    assert.equal(publicMessage(inPhase), 'internal error during criuDump (rolled back: cuda unlock 42)');
    assert.equal(
      publicMessage(new SnapbackError(ErrorCode.NOT_FOUND, 'no such checkpoint')),
      'no such checkpoint',
    );
  });

  it('attributes a phase once', () => {
    const err = new SnapbackError(ErrorCode.INTERNAL, 'x').inPhase('criuDump').inPhase('capture');
    assert.equal(err.phase, 'criuDump');
    assert.deepEqual(err.toJSON(), { code: 'INTERNAL', message: 'x', phase: 'criuDump' });
  });
});
