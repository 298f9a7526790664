/**
 * An agent stand-in for the dispatch benchmark: a real gRPC server implementing the Agent contract that
 * answers every checkpoint at once (test/helpers/fake-agent.ts), in a process of its own so that it does
 * not share an event loop with the load generator. Prints its address; SIGTERM stops it.
 */
import { startFakeAgent } from '../test/helpers/fake-agent.js';

const agent = await startFakeAgent('bench-node');
process.stdout.write(`agent listening on ${agent.address}\n`);
process.once('SIGTERM', () => void agent.close().then(() => process.exit(0)));
