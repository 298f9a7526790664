/**
 * One request to a metadata server (node:fetch): a timeout of its own on top of the watcher's signal.
 * A server that does not answer — refused, unreachable, timed out — is UNAVAILABLE; the watcher's own
 * stop is CANCELLED, so loops can tell "try again" from "stop".
 */
import { ErrorCode, SnapbackError } from '../errors.js';

export interface MetadataResponse {
  status: number;
  headers: Headers;
  text: string;
}

export interface MetadataRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  signal: AbortSignal;
}

export async function metadataRequest(url: string, request: MetadataRequest): Promise<MetadataResponse> {
  try {
    const response = await fetch(url, {
      method: request.method ?? 'GET',
      headers: request.headers ?? {},
      ...(request.body === undefined ? {} : { body: request.body }),
      signal: AbortSignal.any([request.signal, AbortSignal.timeout(request.timeoutMs)]),
      redirect: 'manual',
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  } catch (err) {
    if (request.signal.aborted)
      throw new SnapbackError(ErrorCode.CANCELLED, 'watcher stopped', { cause: err });
    throw new SnapbackError(ErrorCode.UNAVAILABLE, `no answer from ${new URL(url).origin}`, { cause: err });
  }
}

/** Throws UNAVAILABLE for an answer other than `expected`, naming the URL and status. */
export function expectStatus(url: string, response: MetadataResponse, ...expected: number[]): void {
  if (!expected.includes(response.status)) {
    throw new SnapbackError(
      ErrorCode.UNAVAILABLE,
      `${url} answered ${response.status}: ${response.text.slice(0, 200)}`,
    );
  }
}

/** Whether an error means the watcher was stopped. */
export function isStop(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted || (err instanceof SnapbackError && err.code === ErrorCode.CANCELLED);
}
