/** The baseline for the functions: a bare express app that answers every POST with its body. */
import type { AddressInfo } from 'node:net';
import express from 'express';

const app = express();
app.disable('x-powered-by');
app.post('/', express.raw({ type: () => true, limit: 1024 * 1024 }), (req, res) => {
  res.status(200).type('application/json').send(req.body);
});
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on ${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
