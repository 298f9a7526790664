/**
 * The demo's event sink: a node:http server on loopback that the functions deliver completion events to
 * (`--sink`, binary mode), telling the demo about each one as it arrives.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CloudEvent, HTTP } from 'cloudevents';

export interface EventSink {
  url: string;
  /** Every event received so far, in order of arrival. */
  readonly events: readonly CloudEvent<unknown>[];
  close(): Promise<void>;
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startSink(onEvent: (event: CloudEvent<unknown>) => void): Promise<EventSink> {
  const events: CloudEvent<unknown>[] = [];
  const server: Server = createServer((req, res) => {
    bodyOf(req).then(
      (body) => {
        let received: CloudEvent<unknown>[];
        try {
          const parsed = HTTP.toEvent({ headers: req.headers, body });
          received = (Array.isArray(parsed) ? parsed : [parsed]) as CloudEvent<unknown>[];
        } catch (err) {
          res.writeHead(400, { 'content-type': 'text/plain' }).end(`not a CloudEvent: ${String(err)}`);
          return;
        }
        res.writeHead(202).end();
        for (const event of received) {
          events.push(event);
          onEvent(event);
        }
      },
      () => res.writeHead(400).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    events,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
