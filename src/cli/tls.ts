/**
 * Transport security between clients and the agent (docs/architecture.md, "Agent contract": mTLS from mounted certificates, or
 * loopback only). The agent serves with client certificates required
 * (https://grpc.github.io/grpc/node/grpc.ServerCredentials.html#.createSsl, `checkClientCertificate`);
 * clients present theirs and check the agent's against a CA. Files are read here, at the entry points.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { OptionsSpec } from '../config/options.js';
import { ErrorCode, type ErrorDetail, SnapbackError } from '../errors.js';

/** The agent's own certificate, key, and the CA its clients' certificates must chain to. */
export const agentTlsOptions = {
  tlsCert: {
    type: 'string',
    env: 'SNAPBACK_TLS_CERT',
    valueName: 'PATH',
    description: "the agent's TLS certificate (PEM); with --tls-key and --tls-client-ca: mTLS",
  },
  tlsKey: {
    type: 'string',
    env: 'SNAPBACK_TLS_KEY',
    valueName: 'PATH',
    description: "the agent's TLS private key (PEM)",
  },
  tlsClientCa: {
    type: 'string',
    env: 'SNAPBACK_TLS_CLIENT_CA',
    valueName: 'PATH',
    description: 'CA bundle (PEM) that client certificates must chain to; clients without one are refused',
  },
} as const satisfies OptionsSpec;

/** What a client of the agent presents (`snapback checkpoint|restore|list|inspect|run|function`). */
export const clientTlsOptions = {
  tlsCa: {
    type: 'string',
    env: 'SNAPBACK_AGENT_TLS_CA',
    valueName: 'PATH',
    description: "CA bundle (PEM) that the agent's certificate must chain to (turns TLS on)",
  },
  tlsCert: {
    type: 'string',
    env: 'SNAPBACK_AGENT_TLS_CERT',
    valueName: 'PATH',
    description: 'client certificate (PEM) presented to the agent (mTLS)',
  },
  tlsKey: {
    type: 'string',
    env: 'SNAPBACK_AGENT_TLS_KEY',
    valueName: 'PATH',
    description: 'private key (PEM) of the client certificate',
  },
} as const satisfies OptionsSpec;

export interface AgentTlsValues {
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  tlsClientCa?: string | undefined;
}

export interface ClientTlsValues {
  tlsCa?: string | undefined;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
}

function invalid(details: ErrorDetail[]): SnapbackError {
  const summary = details.map((d) => `${d.field} ${d.message}`).join('; ');
  return new SnapbackError(ErrorCode.INVALID_ARGUMENT, `TLS options: ${summary}`, { details });
}

function readPem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw invalid([{ field: flag, message: `cannot read ${path} (${code})` }]);
  }
}

/** Insecure when no TLS option is set; mTLS (client certificates required) when all three are. */
export function agentServerCredentials(values: AgentTlsValues): grpc.ServerCredentials {
  const given = [values.tlsCert, values.tlsKey, values.tlsClientCa].filter((v) => v !== undefined);
  if (given.length === 0) return grpc.ServerCredentials.createInsecure();
  if (given.length < 3) {
    const flags = { tlsCert: '--tls-cert', tlsKey: '--tls-key', tlsClientCa: '--tls-client-ca' } as const;
    throw invalid(
      (Object.keys(flags) as (keyof typeof flags)[])
        .filter((key) => values[key] === undefined)
        .map((key) => ({ field: flags[key], message: 'is required with the other TLS options (mTLS)' })),
    );
  }
  return grpc.ServerCredentials.createSsl(
    readPem(values.tlsClientCa!, '--tls-client-ca'),
    [
      {
        cert_chain: readPem(values.tlsCert!, '--tls-cert'),
        private_key: readPem(values.tlsKey!, '--tls-key'),
      },
    ],
    true,
  );
}

/** Insecure when no TLS option is set; TLS (with a client certificate when given) otherwise. */
export function agentChannelCredentials(values: ClientTlsValues): grpc.ChannelCredentials {
  const { tlsCa, tlsCert, tlsKey } = values;
  if (tlsCa === undefined && tlsCert === undefined && tlsKey === undefined)
    return grpc.credentials.createInsecure();
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    const missing = tlsCert === undefined ? '--tls-cert' : '--tls-key';
    throw invalid([{ field: missing, message: 'is required: a client certificate needs its key' }]);
  }
  return grpc.credentials.createSsl(
    tlsCa === undefined ? null : readPem(tlsCa, '--tls-ca'),
    tlsKey === undefined ? null : readPem(tlsKey, '--tls-key'),
    tlsCert === undefined ? null : readPem(tlsCert, '--tls-cert'),
  );
}
