/**
 * `snapback prestop`: a pod asks for its own checkpoint before it stops (src/prestop/relay.ts). With
 * `--listen` it is the sidecar that answers the pod's preStop httpGet hook; without, it asks once and prints
 * the function's answer (for an exec hook). The pod comes from the downward API (POD_NAMESPACE, POD_NAME).
 */
import { loadConfig } from '../../config/load-config.js';
import type { OptionsSpec } from '../../config/options.js';
import { ErrorCode, exitCodeOf, SnapbackError } from '../../errors.js';
import { DNS1123_LABEL_PATTERN, DNS1123_SUBDOMAIN_PATTERN } from '../../ids.js';
import { createRootLogger } from '../../log.js';
import { askForCheckpoint, startPreStopRelay } from '../../prestop/relay.js';
import { defineCommand } from '../command.js';

export const prestopOptions = {
  to: {
    type: 'string',
    env: 'SNAPBACK_PRESTOP_TO',
    required: true,
    valueName: 'URL',
    description: "the preemption function's preStop endpoint (…/prestop)",
    schema: { format: 'uri' },
  },
  namespace: {
    type: 'string',
    env: 'POD_NAMESPACE',
    required: true,
    description: "this pod's namespace (the downward API: metadata.namespace)",
    schema: { pattern: DNS1123_LABEL_PATTERN },
  },
  pod: {
    type: 'string',
    env: 'POD_NAME',
    required: true,
    description: "this pod's name (the downward API: metadata.name)",
    schema: { pattern: DNS1123_SUBDOMAIN_PATTERN },
  },
  container: {
    type: 'string',
    env: 'SNAPBACK_PRESTOP_CONTAINER',
    description:
      'the container to checkpoint (default: the annotation snapback.io/container, else the first)',
    schema: { pattern: DNS1123_LABEL_PATTERN },
  },
  listen: {
    type: 'string',
    env: 'SNAPBACK_PRESTOP_LISTEN',
    valueName: 'HOST:PORT',
    description: 'serve the preStop hook here (a sidecar); without it, ask once and exit',
    schema: { pattern: '^[^:]*:\\d{1,5}$' },
  },
  timeoutS: {
    type: 'integer',
    env: 'SNAPBACK_PRESTOP_TIMEOUT_S',
    default: 600,
    valueName: 'SECONDS',
    description: 'longest wait for the function (the kubelet stops waiting when the grace period ends)',
    schema: { minimum: 1 },
  },
  logLevel: { type: 'string', env: 'SNAPBACK_LOG_LEVEL', default: 'info', description: 'pino log level' },
} as const satisfies OptionsSpec;

export const prestopCommand = defineCommand({
  name: 'prestop',
  summary: "ask for this pod's checkpoint before it stops (a preStop hook's sidecar, or once)",
  usage: '--to URL [--listen HOST:PORT] [--container NAME]   (POD_NAMESPACE, POD_NAME from the downward API)',
  options: prestopOptions,
  async run(argv, io) {
    const { values } = loadConfig(prestopOptions, argv, io.env);
    const target = {
      to: values.to,
      namespace: values.namespace,
      pod: values.pod,
      timeoutMs: values.timeoutS * 1000,
      ...(values.container === undefined ? {} : { container: values.container }),
    };
    if (values.listen === undefined) {
      const { status, body } = await askForCheckpoint(target);
      io.stdout.write(`${body}\n`);
      if (status >= 200 && status < 300) return 0;
      let code: string | undefined;
      try {
        code = (JSON.parse(body) as { error?: { code?: string } }).error?.code;
      } catch {
        code = undefined; // not the function's answer (a proxy's error page): INTERNAL
      }
      return exitCodeOf[code as ErrorCode] ?? exitCodeOf.INTERNAL;
    }
    const colon = values.listen.lastIndexOf(':');
    const listen = {
      host: values.listen.slice(0, colon) || '0.0.0.0',
      port: Number(values.listen.slice(colon + 1)),
    };
    if (listen.port > 65_535) {
      throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, 'bad --listen', {
        details: [{ field: '--listen', message: 'the port must be at most 65535' }],
      });
    }
    const log = createRootLogger({ level: values.logLevel }).child({ component: 'prestop' });
    const relay = await startPreStopRelay(target, listen, log);
    log.info({ port: relay.port, pod: `${values.namespace}/${values.pod}` }, 'preStop relay listening');
    if (!io.signal.aborted)
      await new Promise((resolve) => io.signal.addEventListener('abort', resolve, { once: true }));
    await relay.close();
    return 0;
  },
});
