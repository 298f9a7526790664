/** An `assert.rejects`/`assert.throws` validator: a SnapbackError of `code`, its message matching `message`. */
import assert from 'node:assert/strict';
import { SnapbackError } from '../../src/errors.js';

export const refusedAs =
  (code: string, message?: RegExp) =>
  (err: unknown): boolean => {
    assert.ok(err instanceof SnapbackError, String(err));
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
