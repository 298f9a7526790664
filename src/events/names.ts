/**
 * Kubernetes names as patterns (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/),
 * in a module of their own so that small processes (the preStop relay) can check names without loading the
 * event schemas.
 */
export { DNS1123_LABEL_PATTERN as DNS1123_LABEL } from '../lib/storage/ids.js';

/** A DNS-1123 subdomain (pod and node names). */
export const DNS1123_SUBDOMAIN =
  '^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
