/** `snapback watch`'s options: flags, the environment variables they fall back to, defaults and constraints. */
import type { OptionsSpec } from '../config/options.js';
import { DNS1123_SUBDOMAIN_PATTERN } from '../ids.js';
import { clouds } from '../watch/notice.js';

export const watchOptions = {
  node: {
    type: 'string',
    env: 'NODE_NAME',
    required: true,
    description: 'this node (the downward API: spec.nodeName)',
    schema: { pattern: DNS1123_SUBDOMAIN_PATTERN },
  },
  sink: {
    type: 'string',
    env: 'K_SINK',
    required: true,
    valueName: 'URL',
    description: 'where notices go: the broker (a SinkBinding sets K_SINK)',
    schema: { format: 'uri' },
  },
  cloud: {
    type: 'string',
    env: 'SNAPBACK_WATCH_CLOUD',
    default: 'auto',
    description: 'the cloud whose metadata server to watch; auto asks them all',
    schema: { enum: ['auto', ...clouds] },
  },
  stateDir: {
    type: 'string',
    env: 'SNAPBACK_WATCH_STATE_DIR',
    default: 'var/watch',
    valueName: 'DIR',
    description: 'record of the notices sent (keep it on a volume that outlives the container)',
    schema: { minLength: 1 },
  },
  pollIntervalMs: {
    type: 'integer',
    env: 'SNAPBACK_WATCH_POLL_INTERVAL_MS',
    default: 1000,
    valueName: 'MS',
    description: 'pause between polls (AWS, Azure) and after a failed request',
    schema: { minimum: 1 },
  },
  gceWaitSeconds: {
    type: 'integer',
    env: 'SNAPBACK_WATCH_GCE_WAIT_SECONDS',
    default: 60,
    valueName: 'SECONDS',
    description: 'timeout_sec of the GCE hanging GETs',
    schema: { minimum: 1 },
  },
  requestTimeoutMs: {
    type: 'integer',
    env: 'SNAPBACK_WATCH_REQUEST_TIMEOUT_MS',
    default: 5000,
    valueName: 'MS',
    description: 'one request to a metadata server or the sink',
    schema: { minimum: 1 },
  },
  detectTimeoutMs: {
    type: 'integer',
    env: 'SNAPBACK_WATCH_DETECT_TIMEOUT_MS',
    default: 2000,
    valueName: 'MS',
    description: 'how long each metadata server has to answer when the cloud is detected',
    schema: { minimum: 1 },
  },
  awsEndpoint: {
    type: 'string',
    env: 'SNAPBACK_AWS_IMDS_ENDPOINT',
    default: 'http://169.254.169.254',
    valueName: 'URL',
    description: 'AWS instance metadata service',
    schema: { format: 'uri' },
  },
  gceEndpoint: {
    type: 'string',
    env: 'SNAPBACK_GCE_METADATA_ENDPOINT',
    default: 'http://metadata.google.internal',
    valueName: 'URL',
    description: 'GCE metadata server',
    schema: { format: 'uri' },
  },
  azureEndpoint: {
    type: 'string',
    env: 'SNAPBACK_AZURE_IMDS_ENDPOINT',
    default: 'http://169.254.169.254',
    valueName: 'URL',
    description: 'Azure instance metadata service',
    schema: { format: 'uri' },
  },
  azureApproveVia: {
    type: 'string',
    env: 'SNAPBACK_AZURE_APPROVE_VIA',
    valueName: 'URL',
    description:
      'the preemption function: Azure notices go there, and the event is approved (StartRequests) once it answers that the checkpoints are done',
    schema: { format: 'uri' },
  },
  logLevel: {
    type: 'string',
    env: 'SNAPBACK_LOG_LEVEL',
    default: 'info',
    description: 'log level',
    schema: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
  },
} as const satisfies OptionsSpec;
