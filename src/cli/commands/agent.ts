/** `snapback agent`: the node agent — builds the executor from config and serves it over gRPC. */
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { createAccessPolicy } from '../../agent/policy.js';
import { recover } from '../../agent/recovery.js';
import { createAgentServer } from '../../agent/server.js';
import { loadConfig } from '../../config/load-config.js';
import type { OptionsSpec } from '../../config/options.js';
import type { ExecutorDeps } from '../../executor/deps.js';
import { createJournal } from '../../executor/journal.js';
import { createContainerdClient, createContainerdRuntime, podOf } from '../../lib/containerd/index.js';
import { type CriuSettings, createCriu } from '../../lib/criu/index.js';
import { createProcessRuntime } from '../../lib/process/index.js';
import { runTool } from '../../lib/runner/index.js';
import { createCheckpointStore } from '../../lib/storage/index.js';
import { createRootLogger } from '../../log.js';
import { defineCommand } from '../command.js';
import { createCudaPhaseFromConfig } from '../cuda-from-config.js';
import { agentServerCredentials, agentTlsOptions } from '../tls.js';
import { packageVersion } from '../version.js';

export const agentOptions = {
  listen: {
    type: 'string',
    env: 'SNAPBACK_LISTEN',
    default: '127.0.0.1:7070',
    valueName: 'HOST:PORT',
    description: 'gRPC address to serve',
    schema: { pattern: '^(\\[[0-9a-fA-F:]+\\]|[^:\\s]+):\\d{1,5}$' },
  },
  storage: {
    type: 'string',
    env: 'SNAPBACK_STORAGE',
    default: 'var/checkpoints',
    valueName: 'DIR',
    description: 'checkpoint storage (a shared volume in a cluster)',
    schema: { minLength: 1 },
  },
  stateDir: {
    type: 'string',
    env: 'SNAPBACK_STATE_DIR',
    default: 'var/state',
    valueName: 'DIR',
    description: "the agent's own state (process runtime workloads)",
    schema: { minLength: 1 },
  },
  runtime: {
    type: 'string',
    env: 'SNAPBACK_RUNTIME',
    default: 'process',
    description: 'container runtime',
    schema: { enum: ['process', 'containerd'] },
  },
  containerdSocket: {
    type: 'string',
    env: 'SNAPBACK_CONTAINERD_SOCKET',
    default: '/run/containerd/containerd.sock',
    valueName: 'PATH',
    description: "containerd's gRPC socket (runtime containerd)",
    schema: { minLength: 1 },
  },
  containerdNamespace: {
    type: 'string',
    env: 'SNAPBACK_CONTAINERD_NAMESPACE',
    default: 'k8s.io',
    valueName: 'NS',
    description: 'containerd namespace of the containers (runtime containerd)',
    schema: { minLength: 1 },
  },
  node: {
    type: 'string',
    env: 'NODE_NAME',
    description: 'name of the node this agent serves (default: the host name)',
    schema: { minLength: 1 },
  },
  allowedNamespaces: {
    type: 'string[]',
    env: 'SNAPBACK_ALLOWED_NAMESPACES',
    default: [],
    valueName: 'NS,…',
    description: 'namespaces the agent may act on (empty: all)',
  },
  criu: {
    type: 'string',
    env: 'SNAPBACK_CRIU',
    default: 'criu',
    valueName: 'PATH',
    description: 'criu binary (4.2 or newer)',
  },
  leaveRunning: {
    type: 'boolean',
    env: 'SNAPBACK_LEAVE_RUNNING',
    default: true,
    description: 'keep workloads running after a checkpoint unless a request says otherwise',
  },
  tcpEstablished: {
    type: 'boolean',
    env: 'SNAPBACK_CRIU_TCP_ESTABLISHED',
    default: true,
    description: 'checkpoint established TCP connections',
  },
  fileLocks: {
    type: 'boolean',
    env: 'SNAPBACK_CRIU_FILE_LOCKS',
    default: true,
    description: 'checkpoint file locks',
  },
  linkRemap: {
    type: 'boolean',
    env: 'SNAPBACK_CRIU_LINK_REMAP',
    default: true,
    description: 'handle open but unlinked files',
  },
  ghostLimit: {
    type: 'integer',
    env: 'SNAPBACK_CRIU_GHOST_LIMIT',
    default: 16 * 1024 * 1024,
    valueName: 'BYTES',
    description: 'largest deleted-but-open file copied into a checkpoint',
    schema: { minimum: 0 },
  },
  shellJob: {
    type: 'boolean',
    env: 'SNAPBACK_CRIU_SHELL_JOB',
    default: false,
    description: 'allow workloads attached to a terminal',
  },
  extUnixSk: {
    type: 'boolean',
    env: 'SNAPBACK_CRIU_EXT_UNIX_SK',
    default: true,
    description: 'allow external unix sockets',
  },
  criuLogLevel: {
    type: 'integer',
    env: 'SNAPBACK_CRIU_LOG_LEVEL',
    default: 4,
    description: 'criu -v level (0–4)',
    schema: { minimum: 0, maximum: 4 },
  },
  manageCgroups: {
    type: 'string',
    env: 'SNAPBACK_CRIU_MANAGE_CGROUPS',
    default: 'ignore',
    description: 'criu --manage-cgroups mode',
    schema: { enum: ['ignore', 'soft', 'full', 'strict', 'none'] },
  },
  networkLock: {
    type: 'string',
    env: 'SNAPBACK_CRIU_NETWORK_LOCK',
    description: 'criu --network-lock method',
    schema: { enum: ['iptables', 'nftables', 'skip'] },
  },
  criuTimeout: {
    type: 'integer',
    env: 'SNAPBACK_CRIU_TIMEOUT',
    default: 600,
    valueName: 'SECONDS',
    description: 'upper bound for one criu run',
    schema: { minimum: 1 },
  },
  cudaCheckpoint: {
    type: 'string',
    env: 'SNAPBACK_CUDA_CHECKPOINT',
    default: 'cuda-checkpoint',
    valueName: 'PATH',
    description: 'cuda-checkpoint binary',
  },
  noCuda: {
    type: 'boolean',
    env: 'SNAPBACK_NO_CUDA',
    default: false,
    description: 'never run the CUDA phase on this node',
  },
  cudaLockTimeout: {
    type: 'integer',
    env: 'SNAPBACK_CUDA_LOCK_TIMEOUT',
    default: 10_000,
    valueName: 'MS',
    description: 'cuda-checkpoint lock timeout',
    schema: { minimum: 1 },
  },
  lazyRestore: {
    type: 'boolean',
    env: 'SNAPBACK_LAZY_RESTORE',
    default: false,
    description: 'restore lazily (CRIU lazy pages) unless a request says otherwise',
  },
  noIoUringLauncher: {
    type: 'string',
    env: 'SNAPBACK_NO_IO_URING_LAUNCHER',
    default: 'snapback-no-io-uring',
    valueName: 'PATH',
    description: 'launcher that starts workloads without io_uring',
  },
  logLevel: {
    type: 'string',
    env: 'LOG_LEVEL',
    default: 'info',
    description: 'log level',
    schema: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
  },
  ...agentTlsOptions,
} as const satisfies OptionsSpec;

export const agentCommand = defineCommand({
  name: 'agent',
  summary: 'serve the node agent (gRPC) that checkpoints and restores workloads',
  usage: '[--listen HOST:PORT] [--storage DIR] [--runtime process|containerd] …',
  options: agentOptions,
  async run(argv, io) {
    const { values: config } = loadConfig(agentOptions, argv, io.env);
    // Certificates are read (and a half-given set refused) before anything else starts.
    const credentials = agentServerCredentials(config);
    const logger = createRootLogger({ level: config.logLevel }).child({ component: 'agent' });
    const criuSettings: CriuSettings = {
      leaveRunning: config.leaveRunning,
      tcpEstablished: config.tcpEstablished,
      fileLocks: config.fileLocks,
      linkRemap: config.linkRemap,
      ghostLimitBytes: config.ghostLimit,
      shellJob: config.shellJob,
      extUnixSockets: config.extUnixSk,
      logLevel: config.criuLogLevel,
      manageCgroups: config.manageCgroups as CriuSettings['manageCgroups'],
      networkLock: config.networkLock as CriuSettings['networkLock'],
      timeoutMs: config.criuTimeout * 1000,
    };
    const criu = createCriu(config.criu, criuSettings, runTool);
    await criu.check();
    const criuVersion = await criu.version();
    const lazyPagesSupported = await criu.supportsLazyPages();
    const store = createCheckpointStore(resolve(config.storage));
    // containerd: the runtime acts on the node's containers and restores into placeholders.
    const containerd =
      config.runtime === 'containerd'
        ? createContainerdClient({ socket: config.containerdSocket, namespace: config.containerdNamespace })
        : undefined;
    const processRuntime = containerd
      ? undefined
      : createProcessRuntime({
          stateDir: resolve(config.stateDir),
          noIoUringLauncher: config.noIoUringLauncher,
          baseEnv: Object.fromEntries(
            Object.entries(io.env).filter((e): e is [string, string] => e[1] !== undefined),
          ),
        });
    const runtime =
      processRuntime ??
      createContainerdRuntime({
        client: containerd!,
        run: runTool,
        criuBinary: config.criu,
        storageDir: resolve(config.storage),
      });
    const executor: ExecutorDeps = {
      store,
      runtime,
      criu,
      cuda: config.noCuda
        ? undefined
        : await createCudaPhaseFromConfig(config.cudaCheckpoint, config.cudaLockTimeout, logger),
      logger,
      node: config.node ?? hostname(),
      lazyPagesSupported,
      journal: createJournal(join(resolve(config.stateDir), 'journal')),
    };
    // Whatever a previous agent left half-done is finished or undone before anything new starts.
    const recovered = await recover({
      journal: executor.journal,
      cuda: executor.cuda,
      runtime,
      logger,
      storageBase: store.paths.base,
      criuTimeoutMs: criuSettings.timeoutMs,
    });
    const swept = await store.init();
    if (
      swept.length > 0 ||
      recovered.thawed.length > 0 ||
      recovered.killed.length > 0 ||
      recovered.criuWaited.length > 0
    ) {
      logger.warn({ swept, ...recovered }, 'recovered from an earlier run');
    }
    const agent = createAgentServer({
      executor,
      policy: createAccessPolicy({
        allowedNamespaces: config.allowedNamespaces,
        ...(containerd ? { podOf: (target) => podOf(containerd, target) } : {}),
      }),
      processRuntime,
      leaveRunning: config.leaveRunning,
      lazyByDefault: config.lazyRestore,
      info: { version: packageVersion, criuVersion, lazyPages: lazyPagesSupported },
    });
    const port = await agent.listen(config.listen, credentials);
    const host = config.listen.slice(0, config.listen.lastIndexOf(':'));
    logger.info(
      {
        address: `${host}:${port}`,
        node: executor.node,
        runtime: config.runtime,
        criu: criuVersion,
        mtls: config.tlsCert !== undefined,
      },
      'agent listening',
    );
    io.stdout.write(`agent listening on ${host}:${port}\n`);
    await new Promise<void>((done) => io.signal.addEventListener('abort', () => done(), { once: true }));
    logger.info('shutting down: waiting for running operations');
    await agent.close();
    containerd?.close();
    return 0;
  },
});
