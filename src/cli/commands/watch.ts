/**
 * `snapback watch`: the node-local watcher of the cloud's own notices (AWS IMDS, GCE metadata, Azure
 * Scheduled Events), each sent once to K_SINK as `io.snapback.preemption.noticed` for this node.
 */
import { loadConfig } from '../../config/load-config.js';
import { createRootLogger } from '../../log.js';
import type { Cloud } from '../../watch/notice.js';
import { runWatcher } from '../../watch/watcher.js';
import { defineCommand } from '../command.js';
import { watchOptions } from '../watch-options.js';

export const watchCommand = defineCommand({
  name: 'watch',
  summary: "watch this node's cloud metadata for spot/preemption notices and send them to the broker",
  usage: '--node NAME --sink URL [--cloud auto|aws|gce|azure] [--state-dir DIR] [--azure-approve-via URL]',
  options: watchOptions,
  async run(argv, io) {
    const { values } = loadConfig(watchOptions, argv, io.env);
    const log = createRootLogger({ level: values.logLevel }).child({ component: 'watch' });
    await runWatcher(
      {
        node: values.node,
        sink: values.sink,
        cloud: values.cloud as Cloud | 'auto',
        stateDir: values.stateDir,
        endpoints: { aws: values.awsEndpoint, gce: values.gceEndpoint, azure: values.azureEndpoint },
        pollIntervalMs: values.pollIntervalMs,
        requestTimeoutMs: values.requestTimeoutMs,
        detectTimeoutMs: values.detectTimeoutMs,
        gceWaitSeconds: values.gceWaitSeconds,
        ...(values.azureApproveVia === undefined ? {} : { azureApproveVia: values.azureApproveVia }),
        log,
      },
      io.signal,
    );
    return 0;
  },
});
