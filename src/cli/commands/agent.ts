/** `snapback agent`: the node agent — builds the executor from config and serves it over gRPC. */
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { createAccessPolicy } from '../../agent/policy.js';
import { createAgentGrpcServer } from '../../agent/server.js';
import { loadConfig } from '../../config/load-config.js';
import type { ExecutorDeps } from '../../executor/deps.js';
import { createJournal } from '../../executor/journal.js';
import { recover } from '../../executor/recovery.js';
import { createContainerdClient, createContainerdRuntime, podOf } from '../../lib/containerd/index.js';
import { type CriuSettings, createCriu } from '../../lib/criu/index.js';
import { createHookRunner } from '../../lib/hooks/index.js';
import { assertInitForwards, createProcessRuntime } from '../../lib/process/index.js';
import { createCheckpointStore, createTieredStore, startHashingPool } from '../../lib/storage/index.js';
import { runTool } from '../../lib/tools/index.js';
import { createRootLogger } from '../../log.js';
import { agentOptions } from '../agent-options.js';
import { defineCommand } from '../command.js';
import { type CudaConfig, createCudaPhaseFromConfig } from '../cuda-from-config.js';
import { objectTierFromConfig } from '../object-tier.js';
import { agentServerCredentials } from '../tls.js';
import { packageVersion } from '../version.js';

export const agentCommand = defineCommand({
  name: 'agent',
  summary: 'serve the node agent (gRPC) that checkpoints and restores workloads',
  usage: '[--listen HOST:PORT] [--storage DIR] [--runtime process|containerd] …',
  options: agentOptions,
  async run(argv, io) {
    const { values: config } = loadConfig(agentOptions, argv, io.env);
    // Certificates are read (and a half-given set refused) before anything else starts.
    const credentials = agentServerCredentials(config);
    const logger = createRootLogger({
      level: config.logLevel,
      ...(config.logFile === undefined ? {} : { file: config.logFile }),
    }).child({ component: 'agent' });
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
      // A container's dump locks its (external) network namespace: with CRIU's own nftables library unless
      // configured otherwise, since nothing promises iptables-restore on the node.
      networkLock: (config.networkLock ??
        (config.runtime === 'containerd' ? 'nftables' : undefined)) as CriuSettings['networkLock'],
      timeoutMs: config.criuTimeout * 1000,
    };
    const criu = createCriu(config.criu, criuSettings, runTool);
    await criu.check();
    const criuVersion = await criu.version();
    const lazyPagesSupported = await criu.supportsLazyPages();
    startHashingPool();
    const node = config.node ?? hostname().toLowerCase();
    const localStore = createCheckpointStore(resolve(config.storage), {
      owner: node,
      leaseTtlMs: config.storageLeaseTtl * 1000,
      onProblem: (message, err) => logger.warn({ err }, message),
    });
    const { store, remote } =
      config.objectStorage === undefined
        ? { store: localStore, remote: undefined }
        : createTieredStore(
            localStore,
            await objectTierFromConfig({ ...config, objectStorage: config.objectStorage }, io.env),
            {
              abandonAfterMs: config.objectStorageAbandonAfter * 1000,
              partsAtOnce: config.objectStorageQueueSize,
              onProblem: (message, err) => logger.warn({ err }, message),
            },
          );
    // The lease on the storage comes first: until it is held, agents sharing the volume take this node's
    // leftovers for a dead agent's.
    await store.open();
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
          init: config.processInit,
          baseEnv: Object.fromEntries(
            Object.entries(io.env).filter((e): e is [string, string] => e[1] !== undefined),
          ),
        });
    if (processRuntime) await assertInitForwards(config.processInit);
    const runtime =
      processRuntime ??
      createContainerdRuntime({
        client: containerd!,
        run: runTool,
        hostRoot: config.hostRoot,
        rootfsExclusions: config.excludePaths,
      });
    const executor: ExecutorDeps = {
      store,
      ...(remote === undefined ? {} : { remote }),
      runtime,
      criu,
      hooks: createHookRunner(),
      cuda: config.noCuda
        ? undefined
        : await createCudaPhaseFromConfig(
            {
              backend: config.cudaBackend as CudaConfig['backend'],
              tool: config.cudaCheckpoint,
              helper: config.cudaHelper,
              ...(config.cudaDriverLib === undefined ? {} : { driverLib: config.cudaDriverLib }),
              lockTimeoutMs: config.cudaLockTimeout,
            },
            logger,
          ),
      logger,
      node,
      lazyPagesSupported,
      journal: createJournal(join(resolve(config.stateDir), 'journal')),
      keptLogsDir: join(resolve(config.stateDir), 'logs'),
    };
    // Whatever a previous agent left half-done is finished or undone before anything new starts.
    const recovered = await recover({
      journal: executor.journal,
      cuda: executor.cuda,
      runtime,
      hooks: executor.hooks,
      logger,
      stagingRoot: store.stagingRoot,
      criuTimeoutMs: criuSettings.timeoutMs,
    });
    const swept = await store.init();
    if (
      swept.length > 0 ||
      recovered.thawed.length > 0 ||
      recovered.killed.length > 0 ||
      recovered.woken.length > 0 ||
      recovered.criuWaited.length > 0
    ) {
      logger.warn({ swept, ...recovered }, 'recovered from an earlier run');
    }
    const agent = createAgentGrpcServer({
      executor,
      policy: createAccessPolicy({
        allowedNamespaces: config.allowedNamespaces,
        ...(containerd ? { podOf: (target) => podOf(containerd, target) } : {}),
      }),
      processRuntime,
      leaveRunning: config.leaveRunning,
      lazyByDefault: config.lazyRestore,
      info: {
        version: packageVersion,
        criuVersion,
        lazyPages: lazyPagesSupported,
        cudaBackend: executor.cuda?.backend ?? 'off',
      },
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
    io.stdout.write(
      `agent listening on ${host}:${port}${config.logFile === undefined ? '' : ` (log: ${config.logFile})`}\n`,
    );
    await new Promise<void>((done) => io.signal.addEventListener('abort', () => done(), { once: true }));
    logger.info('shutting down: waiting for running operations');
    await agent.close();
    await store.close();
    await executor.cuda?.close();
    containerd?.close();
    return 0;
  },
});
