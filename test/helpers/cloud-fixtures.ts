/**
 * The provider-documented notice samples under test/fixtures/notices (README there names each page), read
 * fresh for each use and re-aimed: another instance, VM or node, and times relative to now.
 */
import { readFileSync } from 'node:fs';

const dir = new URL('../fixtures/notices/', import.meta.url);

/** The sample ids the fixtures use, replaced by `aimedAt`. */
export const SampleId = {
  AWS_INSTANCE: 'i-1234567890abcdef0',
  GCE_PROJECT: 'my-project',
  GCE_ZONE: 'us-central1-a',
  GCE_INSTANCE: 'gke-pool-1-abcd',
  AZURE_VM: 'aks-spot-12345678-vmss_3',
} as const;

// biome-ignore lint/suspicious/noExplicitAny: tests edit fixtures freely, path by path
export type Json = Record<string, any>;

/** A fixture (`aws/imds-spot-instance-action.json`), parsed anew. */
export function fixture(name: string): Json {
  return JSON.parse(readFileSync(new URL(name, dir), 'utf8')) as Json;
}

/** The fixture with every occurrence of `sample` replaced by `actual` (instance ids, VM names). */
export function aimedAt(value: Json, sample: string, actual: string): Json {
  return JSON.parse(JSON.stringify(value).split(sample).join(actual)) as Json;
}

/** An RFC 1123 date (`Mon, 02 Mar 2026 10:00:30 GMT`), as Azure's NotBefore and AWS Health's startTime. */
export function rfc1123(date: Date): string {
  return date.toUTCString();
}
