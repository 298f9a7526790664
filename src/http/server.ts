/**
 * The functions' process side: listen, and on shutdown stop answering ready, close the server (letting
 * requests in flight finish) and the agent channels.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFunctionsApp, type FunctionsAppDeps } from './app.js';

export interface FunctionsServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

export async function startFunctionsServer(
  deps: FunctionsAppDeps,
  port: number,
  host = '0.0.0.0',
): Promise<FunctionsServer> {
  const { app, drain } = createFunctionsApp(deps);
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(listening)));
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    async close() {
      drain();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      deps.agents.close();
    },
  };
}
