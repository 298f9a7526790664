/** HTTP answers of the functions: events in binary or batch mode, and errors as JSON naming each field. */
import { type CloudEvent, HTTP } from 'cloudevents';
import type { Response } from 'express';
import { type ErrorDetail, httpStatusOf, publicMessage, SnapbackError } from '../errors.js';

export interface ErrorBody {
  error: { code: string; message: string; details?: readonly ErrorDetail[] };
}

export function errorBody(err: SnapbackError): ErrorBody {
  return {
    error: {
      code: err.code,
      message: publicMessage(err),
      ...(err.details.length > 0 ? { details: err.details } : {}),
    },
  };
}

/** Sends an error; `status` overrides the code's HTTP status (415, 413). Returns the status sent. */
export function sendError(res: Response, err: unknown, status?: number): number {
  const error = SnapbackError.from(err);
  const code = status ?? httpStatusOf[error.code];
  res.status(code).json(errorBody(error));
  return code;
}

/** No event: 204; one: binary mode; several: a batch (application/cloudevents-batch+json). */
export function sendEvents(res: Response, events: readonly CloudEvent<unknown>[]): number {
  if (events.length === 0) {
    res.status(204).end();
    return 204;
  }
  if (events.length === 1) {
    const message = HTTP.binary(events[0]!);
    for (const [key, value] of Object.entries(message.headers)) res.setHeader(key, String(value));
    res.status(200).send(message.body === undefined ? '' : String(message.body));
    return 200;
  }
  res
    .status(200)
    .type('application/cloudevents-batch+json')
    .send(JSON.stringify(events.map((e) => e.toJSON())));
  return 200;
}
