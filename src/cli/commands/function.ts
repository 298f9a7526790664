/**
 * `snapback function <checkpoint|restore|preemption|all>`: serve the event functions. Cluster mode reads
 * the Kubernetes API (in-cluster, or `--kubeconfig`); local mode talks to one agent (`--agent --node`).
 */
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { loadConfig } from '../../config/load-config.js';
import { createAgentDispatcher } from '../../dispatch/agent-dispatcher.js';
import { createInformerResolver } from '../../dispatch/informer-resolver.js';
import { startKubeCache } from '../../dispatch/kube-cache.js';
import { createKubePodWriter } from '../../dispatch/pod-status.js';
import { createKubeRecorder } from '../../dispatch/recorder.js';
import { createReplicaSetCache } from '../../dispatch/replica-sets.js';
import { createLocalResolver } from '../../dispatch/resolver.js';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { type FunctionName, type FunctionTable, functionNames } from '../../http/context.js';
import { startFunctionsServer } from '../../http/server.js';
import { EVENT_GRID_ORIGIN } from '../../http/webhook-validation.js';
import { createRootLogger } from '../../log.js';
import { logFileOption } from '../agent-options.js';
import { defineCommand } from '../command.js';
import { agentChannelCredentials, clientTlsOptions } from '../tls.js';

export const options = {
  port: {
    type: 'integer',
    env: 'PORT',
    default: 8080,
    description: 'HTTP port',
    schema: { minimum: 0, maximum: 65535 },
  },
  agent: {
    type: 'string',
    env: 'SNAPBACK_AGENT',
    valueName: 'HOST:PORT',
    description: 'local mode: the agent',
  },
  node: { type: 'string', env: 'NODE_NAME', description: 'local mode: the node the agent serves' },
  providerId: {
    type: 'string',
    env: 'SNAPBACK_PROVIDER_ID',
    description: "local mode: the node's provider id",
  },
  sink: {
    type: 'string',
    env: 'K_SINK',
    valueName: 'URL',
    description: 'send completion events here',
    schema: { format: 'uri' },
  },
  kubeconfig: {
    type: 'string',
    env: 'KUBECONFIG',
    valueName: 'PATH',
    description: 'cluster mode outside the cluster',
  },
  agentNamespace: {
    type: 'string',
    env: 'SNAPBACK_AGENT_NAMESPACE',
    description: 'namespace of the agent pods',
  },
  agentPort: {
    type: 'integer',
    env: 'SNAPBACK_AGENT_PORT',
    default: 7070,
    description: "agents' gRPC port",
  },
  concurrency: {
    type: 'integer',
    env: 'SNAPBACK_CONCURRENCY',
    default: 8,
    description: 'parallel checkpoints per node',
    schema: { minimum: 1 },
  },
  safetyMarginMs: {
    type: 'integer',
    env: 'SNAPBACK_SAFETY_MARGIN_MS',
    default: 10000,
    description: 'kept free before a deadline',
    schema: { minimum: 0 },
  },
  podBudgetS: {
    type: 'integer',
    env: 'SNAPBACK_POD_NOTICE_BUDGET_S',
    default: 30,
    valueName: 'SECONDS',
    description: "a pod notice's time when neither the pod's deletion time nor its grace period is known",
    schema: { minimum: 1 },
  },
  planThroughputMibS: {
    type: 'number',
    env: 'SNAPBACK_PLAN_THROUGHPUT_MIB_S',
    default: 500,
    valueName: 'MIB_PER_S',
    description:
      "the deadline planner: a node's checkpoint throughput until one of its checkpoints is measured",
    schema: { exclusiveMinimum: 0 },
  },
  planGpuMemoryGib: {
    type: 'number',
    env: 'SNAPBACK_PLAN_GPU_MEMORY_GIB',
    default: 24,
    valueName: 'GIB',
    description: 'the deadline planner: what one GPU adds to the size of a checkpoint never measured',
    schema: { minimum: 0 },
  },
  maxBodyBytes: {
    type: 'integer',
    env: 'SNAPBACK_MAX_BODY_BYTES',
    default: 1048576,
    description: 'largest request body',
    schema: { minimum: 1 },
  },
  webhookOrigins: {
    type: 'string[]',
    env: 'SNAPBACK_WEBHOOK_ORIGINS',
    default: [EVENT_GRID_ORIGIN],
    valueName: 'HOST',
    description: 'senders allowed by the CloudEvents webhook validation handshake (OPTIONS); * for any',
    schema: { minLength: 1 },
  },
  logFile: logFileOption,
  logLevel: { type: 'string', env: 'SNAPBACK_LOG_LEVEL', default: 'info', description: 'pino log level' },
  ...clientTlsOptions,
} as const;

type Values = ReturnType<typeof loadConfig<typeof options>>['values'];

function parseName(positionals: readonly string[]): FunctionName | 'all' {
  const name = positionals[0];
  if (name === 'all' || functionNames.includes(name as FunctionName)) return name as FunctionName | 'all';
  throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, 'which function?', {
    details: [{ field: 'FUNCTION', message: `must be one of ${[...functionNames, 'all'].join(', ')}` }],
  });
}

function kubeConfigOf(
  values: Values,
  env: Readonly<Record<string, string | undefined>>,
): KubeConfig | undefined {
  const kc = new KubeConfig();
  if (values.kubeconfig !== undefined) kc.loadFromFile(values.kubeconfig);
  else if (env['KUBERNETES_SERVICE_HOST']) kc.loadFromCluster();
  else return undefined;
  return kc;
}

/** `snapback function`, serving the handlers it is given (functions/index.ts, composed by bin/snapback.ts). */
export const functionCommand = (functions: FunctionTable) =>
  defineCommand({
    name: 'function',
    summary: 'serve the event functions: checkpoint, restore, preemption, or all',
    usage:
      '<checkpoint|restore|preemption|all> [--port P] [--agent ADDR --node NAME] [--sink URL] [--kubeconfig PATH]',
    options,
    maxPositionals: 1,
    async run(argv, io) {
      const { values, positionals } = loadConfig(options, argv, io.env, { maxPositionals: 1 });
      const serve = parseName(positionals);
      if (values.agent !== undefined && values.node === undefined) {
        throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, 'local mode needs --node', {
          details: [{ field: '--node', message: 'is required with --agent (or set NODE_NAME)' }],
        });
      }
      const log = createRootLogger({
        level: values.logLevel,
        ...(values.logFile === undefined ? {} : { file: values.logFile }),
      });
      const agents = createAgentDispatcher({ credentials: agentChannelCredentials(values) });
      const kc = values.agent === undefined ? kubeConfigOf(values, io.env) : undefined;
      if (values.agent === undefined && kc === undefined) {
        throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, 'no agent and no cluster', {
          details: [
            {
              field: '--agent',
              message: 'give --agent ADDR --node NAME, or --kubeconfig PATH, or run in a cluster',
            },
          ],
        });
      }
      const api = kc?.makeApiClient(CoreV1Api);
      const agentNamespace = values.agentNamespace ? { agentNamespace: values.agentNamespace } : {};
      // Informers keep agents, opted-in pods and nodes in memory: an event lists nothing.
      const cache = api && kc ? await startKubeCache(kc, api, { log, ...agentNamespace }) : undefined;
      const resolver =
        api && cache && kc
          ? createInformerResolver(api, cache, {
              agentPort: values.agentPort,
              ...agentNamespace,
              // A pod's ReplicaSet → its Deployment: the workload a checkpoint records.
              replicaSets: createReplicaSetCache(kc.makeApiClient(AppsV1Api)),
            })
          : createLocalResolver({
              agent: values.agent!,
              node: values.node!,
              agents,
              ...(values.providerId ? { providerId: values.providerId } : {}),
            });
      const server = await startFunctionsServer(
        {
          functions,
          serve,
          resolver,
          agents,
          log,
          ...(api ? { recorder: createKubeRecorder(api, log), pods: createKubePodWriter(api) } : {}),
          ...(values.sink ? { sink: values.sink } : {}),
          maxBodyBytes: values.maxBodyBytes,
          webhookOrigins: values.webhookOrigins,
          fanOut: {
            concurrency: values.concurrency,
            safetyMarginMs: values.safetyMarginMs,
            podBudgetMs: values.podBudgetS * 1000,
            defaultThroughputBytesPerSecond: values.planThroughputMibS * 2 ** 20,
            gpuMemoryBytes: values.planGpuMemoryGib * 2 ** 30,
          },
        },
        values.port,
      );
      log.info(
        { port: server.port, serve, mode: api ? 'cluster' : 'local', sink: values.sink },
        'functions listening',
      );
      const logIn = values.logFile === undefined ? '' : ` (log: ${values.logFile})`;
      io.stdout.write(`functions (${serve}) listening on port ${server.port}${logIn}\n`);
      if (!io.signal.aborted)
        await new Promise((resolve) => io.signal.addEventListener('abort', resolve, { once: true }));
      await server.close();
      await cache?.stop();
      return 0;
    },
  });
