/**
 * Which cloud this node runs in, asked of the metadata servers themselves, all at once with a short
 * timeout: AWS answers an IMDSv2 token PUT, GCE answers `instance/id` with `Metadata-Flavor: Google`,
 * Azure answers `instance/compute/name` with `Metadata: true`. None answering means no cloud (a laptop, a
 * data centre, a metadata server blocked from the pod network).
 */

import type { Logger } from '../log.js';
import { createImdsClient } from './aws-imds.js';
import { AzurePath } from './azure-scheduled-events.js';
import { gceGet } from './gce-metadata.js';
import { metadataRequest } from './metadata-http.js';
import { Cloud } from './notice.js';

export interface Endpoints {
  aws: string;
  gce: string;
  azure: string;
}

export async function detectCloud(
  endpoints: Endpoints,
  timeoutMs: number,
  log: Logger,
  signal: AbortSignal,
): Promise<Cloud | undefined> {
  const probes: Record<Cloud, () => Promise<unknown>> = {
    [Cloud.AWS]: () =>
      createImdsClient({
        endpoint: endpoints.aws,
        pollIntervalMs: 0,
        requestTimeoutMs: timeoutMs,
        log,
      }).newToken(signal),
    [Cloud.GCE]: () =>
      gceGet(
        { endpoint: endpoints.gce, waitSeconds: 0, requestTimeoutMs: timeoutMs, retryDelayMs: 0, log },
        '/computeMetadata/v1/instance/id',
        undefined,
        signal,
      ),
    [Cloud.AZURE]: async () => {
      const url = new URL(AzurePath.VM_NAME, endpoints.azure).toString();
      const response = await metadataRequest(url, { headers: { Metadata: 'true' }, timeoutMs, signal });
      if (response.status !== 200) throw new Error(`answered ${response.status}`);
    },
  };
  const order = Object.keys(probes) as Cloud[];
  const results = await Promise.allSettled(order.map((cloud) => probes[cloud]()));
  const answered = order.filter((_, i) => results[i]!.status === 'fulfilled');
  if (answered.length > 1)
    log.warn({ answered }, 'more than one cloud metadata server answered; taking the first');
  return answered[0];
}
