/**
 * test/fixtures/hook-server.py under the process runtime: a server that drops its cache when asked before a
 * checkpoint, rebuilds it when asked after, and records every call; the hooks written in the annotations'
 * one-line form (docs/hooks.md).
 */
import { request } from 'node:http';
import { createServer } from 'node:net';
import { hooksToMessage } from '../../src/agent/hooks-codec.js';
import { parseWorkloadHooks } from '../../src/lib/hooks/index.js';
import { type AgentProcess, commandPidOf, python } from './agent-process.js';
import { waitFor } from './proc.js';

export const hookServerScript = new URL('../fixtures/hook-server.py', import.meta.url).pathname;

export interface ServerState {
  asleep: boolean;
  cacheBytes: number;
  secret: string;
  calls: { path: string; by: number }[];
}

/** The hooks as a request carries them, from their one-line forms (`{PORT}` is replaced by `port`). */
export function hooksMessage(port: number, hooks: { pre?: string; post?: string }) {
  const fill = (text: string | undefined) => text?.replaceAll('{PORT}', String(port));
  const parsed = parseWorkloadHooks(
    { preCheckpoint: fill(hooks.pre), postRestore: fill(hooks.post) },
    { preCheckpoint: 'pre', postRestore: 'post' },
  );
  return parsed === undefined ? undefined : hooksToMessage(parsed);
}

/** GET /state on a connection of its own, closed after (no connection may be open across a dump). */
export function serverState(port: number): Promise<ServerState> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/state', agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as ServerState);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer')));
    req.on('error', reject);
    req.end();
  });
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts the server as workload `name` with the hooks given (if any); resolves once it answers. `pid` is the
 * workload's (its init's), `serverPid` the server's own: what it records as the caller of a hook.
 */
export async function startHookServer(
  agent: AgentProcess,
  name: string,
  options: { cacheMib: number; pre?: string; post?: string; env?: Record<string, string> },
): Promise<{ pid: number; serverPid: number; port: number }> {
  const port = await freePort();
  const hooks = hooksMessage(port, options);
  const workload = await agent.client.startWorkload({
    name,
    command: [python, hookServerScript, String(port), String(options.cacheMib)],
    ...(hooks === undefined ? {} : { hooks }),
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  await waitFor(`${name} to answer`, () => serverState(port).catch(() => undefined), 30_000);
  return { pid: workload.pid, serverPid: await commandPidOf(workload.pid), port };
}
