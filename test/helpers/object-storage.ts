/**
 * A real S3-protocol server (s3rver) on loopback, behind a small proxy that a test steers: it answers 500
 * to UploadPart, holds UploadPart requests unanswered (an agent stuck mid-upload), or refuses every write
 * as a full bucket does (403 QuotaExceeded, as Ceph RGW answers; s3rver has no quotas). s3rver does not
 * implement ListMultipartUploads nor AbortMultipartUpload, so the proxy answers those two from the
 * multipart uploads it saw go through (created, not completed, not aborted), as S3 documents them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

export const BUCKET = 'snapback-test';

export interface OpenUpload {
  key: string;
  uploadId: string;
  initiated: Date;
}

export interface TestObjectStorage {
  /** The proxy's URL: AWS_ENDPOINT_URL_S3 for agents. */
  endpoint: string;
  /** Environment for an agent using it (through the proxy). */
  env: Record<string, string>;
  /** Environment for an agent talking to s3rver itself (benchmarks: no proxy in the way). */
  directEnv: Record<string, string>;
  /** A client for the test's own look into the bucket (straight to s3rver). */
  client: S3Client;
  /** A client through the proxy, as an agent's (for tests of the tier itself). */
  agentClient: S3Client;
  /** What the proxy does to UploadPart requests ('quota': to every write of an object). */
  parts: 'pass' | 'fail' | 'hold' | 'quota';
  /** UploadPart requests answered 500 or held so far. */
  interfered: number;
  /** UploadPart requests passed to s3rver, by object key. */
  partsPassed: Map<string, number>;
  /** GET requests with a Range header, by object key. */
  rangedGets: Map<string, number>;
  /** Ranged GETs this says to hold are held (not answered) until `releaseGets`. */
  holdGets: ((key: string, range: string) => boolean) | undefined;
  /** How many ranged GETs are held now. */
  heldGets(): number;
  /** Answers the held GETs, and holds no more. */
  releaseGets(): void;
  /** Multipart uploads created and neither completed nor aborted. */
  openUploads(): OpenUpload[];
  /** Aborted multipart uploads, by upload id. */
  aborted: Set<string>;
  close(): Promise<void>;
}

export async function startObjectStorage(): Promise<TestObjectStorage> {
  const directory = await mkdtemp(join(tmpdir(), 'snapback-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: BUCKET, configs: [] }],
  });
  const { port: s3Port } = (await server.run()) as AddressInfo;
  const open = new Map<string, OpenUpload>();
  const held: ServerResponse[] = [];
  const heldGets: (() => void)[] = [];
  const storage: TestObjectStorage = {
    endpoint: '',
    env: {},
    directEnv: {},
    client: undefined as unknown as S3Client,
    agentClient: undefined as unknown as S3Client,
    parts: 'pass',
    interfered: 0,
    partsPassed: new Map(),
    rangedGets: new Map(),
    holdGets: undefined,
    heldGets: () => heldGets.length,
    releaseGets() {
      storage.holdGets = undefined;
      for (const answer of heldGets.splice(0)) answer();
    },
    openUploads: () => [...open.values()],
    aborted: new Set(),
    async close() {
      for (const res of held) res.destroy();
      storage.releaseGets();
      proxy.closeAllConnections();
      await new Promise<void>((done) => proxy.close(() => done()));
      storage.client.destroy();
      storage.agentClient.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, seen?: (xml: string) => void) => {
    const upstream = request(
      { host: '127.0.0.1', port: s3Port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          const text = Buffer.concat(chunks);
          if ((answer.statusCode ?? 500) < 300) seen?.(text.toString('utf8'));
          res.writeHead(answer.statusCode ?? 500, answer.headers);
          res.end(text);
        });
      },
    );
    upstream.on('error', () => res.destroy());
    upstream.end(body);
  };

  const proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://proxy');
      const key = decodeURIComponent(url.pathname.split('/').slice(2).join('/'));
      const uploadId = url.searchParams.get('uploadId');
      if (storage.parts === 'quota' && req.method === 'PUT') {
        storage.interfered++;
        res.writeHead(403, { 'content-type': 'application/xml' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>QuotaExceeded</Code><Message>The bucket is over its quota (injected by the test)</Message></Error>',
        );
        return;
      }
      if (req.method === 'PUT' && uploadId !== null && url.searchParams.has('partNumber')) {
        if (storage.parts === 'fail') {
          storage.interfered++;
          res.writeHead(500, { 'content-type': 'application/xml' });
          res.end(
            '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected by the test</Message></Error>',
          );
          return;
        }
        if (storage.parts === 'hold') {
          storage.interfered++;
          held.push(res);
          return;
        }
        storage.partsPassed.set(key, (storage.partsPassed.get(key) ?? 0) + 1);
      }
      if (req.method === 'GET' && req.headers.range !== undefined) {
        storage.rangedGets.set(key, (storage.rangedGets.get(key) ?? 0) + 1);
        if (storage.holdGets?.(key, req.headers.range) === true) {
          heldGets.push(() => forward(req, res, body));
          return;
        }
      }
      if (
        req.method === 'GET' &&
        url.pathname.replace(/\/$/, '') === `/${BUCKET}` &&
        url.searchParams.has('uploads')
      ) {
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end(listUploadsXml(storage.openUploads()));
        return;
      }
      if (req.method === 'DELETE' && uploadId !== null) {
        open.delete(uploadId);
        storage.aborted.add(uploadId);
        res.writeHead(204);
        res.end();
        return;
      }
      if (req.method === 'POST' && url.searchParams.has('uploads')) {
        forward(req, res, body, (xml) => {
          const id = /<UploadId>([^<]+)<\/UploadId>/.exec(xml)?.[1];
          if (id !== undefined) open.set(id, { key, uploadId: id, initiated: new Date() });
        });
        return;
      }
      if (req.method === 'POST' && uploadId !== null) {
        forward(req, res, body, () => open.delete(uploadId));
        return;
      }
      forward(req, res, body);
    });
  });
  await new Promise<void>((done) => proxy.listen(0, '127.0.0.1', () => done()));
  const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  storage.endpoint = endpoint;
  storage.env = {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_REGION: 'us-east-1',
  };
  storage.directEnv = { ...storage.env, AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${s3Port}` };
  storage.agentClient = new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  storage.client = new S3Client({
    endpoint: `http://127.0.0.1:${s3Port}`,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return storage;
}

function listUploadsXml(uploads: OpenUpload[]): string {
  const xmlText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const items = uploads
    .map(
      (u) =>
        `<Upload><Key>${xmlText(u.key)}</Key><UploadId>${u.uploadId}</UploadId><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`,
    )
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>${BUCKET}</Bucket><IsTruncated>false</IsTruncated>${items}</ListMultipartUploadsResult>`;
}
