/**
 * One HTTP request, made by a process of its own that the agent starts inside a workload's network
 * namespace (`nsenter -t PID -n -- node netns-http.child.js METHOD HOST PORT PATH TIMEOUT_MS`, see
 * run-hook.ts). It prints one JSON line — `{"status":200,"body":"…"}` or `{"error":"…"}` — and exits 0;
 * the agent judges the answer.
 *
 * It imports nothing but Node's own modules and uses only erasable TypeScript, so that Node runs it as it
 * is from source (type stripping) as well as compiled, without tsx and without the rest of snapback: it
 * starts in about a tenth of a second, which a hook's timeout must not pay for many times over.
 */
import { request } from 'node:http';

const BODY_LIMIT = 2048;
const [method = 'GET', host = '127.0.0.1', port = '0', path = '/', timeout = '30000'] = process.argv.slice(2);

function answer(result: { status: number; body: string } | { error: string }): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

const req = request(
  {
    method,
    host,
    port: Number(port),
    path,
    agent: false,
    timeout: Number(timeout),
    // An empty body, said so: servers that read a POST's body to its end need to know there is none.
    headers: { 'content-length': '0', connection: 'close' },
  },
  (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      if (body.length < BODY_LIMIT) body += chunk.slice(0, BODY_LIMIT - body.length);
    });
    res.on('end', () => answer({ status: res.statusCode ?? 0, body }));
    res.on('error', (err) => answer({ error: err.message }));
  },
);
req.on('timeout', () => req.destroy(new Error(`no answer within ${timeout} ms`)));
req.on('error', (err) => answer({ error: err.message }));
req.end();
