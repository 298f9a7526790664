/** The one way a notice parser refuses its input: INVALID_ARGUMENT with one detail per field. */
import { ErrorCode, type ErrorDetail, SnapbackError } from '../../errors.js';
import type { ValidateFunction } from '../../validation/ajv.js';
import { dataProblems } from '../schemas.js';

/** Throws INVALID_ARGUMENT (`what`: "invalid AWS Health event") when `data` fails `validate`. */
export function assertValid<T>(
  validate: ValidateFunction<T>,
  data: unknown,
  what: string,
): asserts data is T {
  const problems = dataProblems(validate, data);
  if (problems.length > 0) throw invalidNotice(what, problems);
}

export function invalidNotice(what: string, details: readonly ErrorDetail[]): SnapbackError {
  const summary = details.map((d) => `${d.field}: ${d.message}`).join('; ');
  return new SnapbackError(ErrorCode.INVALID_ARGUMENT, `${what}: ${summary}`, { details });
}
