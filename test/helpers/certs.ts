/**
 * Throw-away certificates for mTLS tests, made with openssl: a CA, a server certificate for 127.0.0.1 and
 * localhost (SAN), a client certificate from that CA, and a client certificate from another CA. EC P-256
 * keys, valid for one day.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Certs {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by a CA the agent does not trust. */
  strangerCert: string;
  strangerKey: string;
  cleanup(): Promise<void>;
}

export async function makeCerts(): Promise<Certs> {
  const dir = await mkdtemp(join(tmpdir(), 'snapback-certs-'));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const makeCa = (name: string) =>
    openssl(
      'req',
      '-x509',
      ...key,
      '-keyout',
      at(`${name}.key`),
      '-out',
      at(`${name}.crt`),
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
    );
  const issue = async (name: string, ca: string, ext: string) => {
    await writeFile(at(`${name}.ext`), ext);
    await openssl(
      'req',
      ...key,
      '-keyout',
      at(`${name}.key`),
      '-out',
      at(`${name}.csr`),
      '-subj',
      `/CN=${name}`,
    );
    await openssl(
      'x509',
      '-req',
      '-in',
      at(`${name}.csr`),
      '-CA',
      at(`${ca}.crt`),
      '-CAkey',
      at(`${ca}.key`),
      '-CAcreateserial',
      '-out',
      at(`${name}.crt`),
      '-days',
      '1',
      '-extfile',
      at(`${name}.ext`),
    );
  };
  await Promise.all([makeCa('test-ca'), makeCa('stranger-ca')]);
  // One after another: issuing from the same CA writes its serial file.
  await issue(
    'server',
    'test-ca',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  await issue('client', 'test-ca', 'extendedKeyUsage=clientAuth\n');
  await issue('stranger', 'stranger-ca', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    ca: at('test-ca.crt'),
    serverCert: at('server.crt'),
    serverKey: at('server.key'),
    clientCert: at('client.crt'),
    clientKey: at('client.key'),
    strangerCert: at('stranger.crt'),
    strangerKey: at('stranger.key'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
