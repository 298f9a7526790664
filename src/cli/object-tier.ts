/**
 * The agent's object-storage tier from its options. Credentials, region and endpoint come from the AWS
 * SDK's standard sources (AWS_ACCESS_KEY_ID…, AWS_REGION, AWS_ENDPOINT_URL_S3, a web identity token in a
 * cluster: https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { ErrorCode, SnapbackError } from '../errors.js';
import { createObjectTier, type ObjectTier, parseObjectStorageUrl } from '../lib/storage/index.js';

const MIB = 1024 * 1024;

export async function objectTierFromConfig(
  config: { objectStorage: string; objectStoragePartSize: number; objectStorageQueueSize: number },
  env: Record<string, string | undefined>,
): Promise<ObjectTier> {
  const where = parseObjectStorageUrl(config.objectStorage);
  const client = new S3Client({
    // A custom endpoint (MinIO, Ceph RGW, GCS's XML API) is addressed by path: its buckets rarely have
    // DNS names of their own.
    forcePathStyle: (env['AWS_ENDPOINT_URL_S3'] ?? env['AWS_ENDPOINT_URL'] ?? '') !== '',
    // Checksums only where S3 requires them: S3-compatible servers reject or mangle the SDK's default
    // trailing checksums, and every file is checked against the manifest's sha256 anyway.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  // A missing region fails the agent's start, not its first checkpoint.
  await client.config.region().catch((err: unknown) => {
    throw new SnapbackError(
      ErrorCode.INVALID_ARGUMENT,
      `object storage ${config.objectStorage} needs a region (AWS_REGION): ${(err as Error).message}`,
      { cause: err },
    );
  });
  return createObjectTier(client, where, {
    partSize: config.objectStoragePartSize * MIB,
    queueSize: config.objectStorageQueueSize,
  });
}
