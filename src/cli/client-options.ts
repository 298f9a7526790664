/** Options every agent client command shares, and the helpers they use to talk and print. */
import { type AgentConnection, connectAgent, unreachableAgentOf } from '../agent/client.js';
import type { OptionsSpec } from '../config/options.js';
import { ErrorCode, exitCodeOf, SnapbackError } from '../errors.js';
import type { CommandIo } from './command.js';
import { agentChannelCredentials, type ClientTlsValues, clientTlsOptions } from './tls.js';

export { clientTlsOptions } from './tls.js';

export const agentAddressOption = {
  type: 'string',
  env: 'SNAPBACK_AGENT',
  default: '127.0.0.1:7070',
  valueName: 'HOST:PORT',
  description: 'address of the agent',
  schema: { pattern: '^(\\[[0-9a-fA-F:]+\\]|[^:\\s]+):\\d{1,5}$' },
} as const;

export const clientOptions = {
  agent: agentAddressOption,
  json: { type: 'boolean', default: false, description: 'print one JSON object on stdout' },
  timeout: {
    type: 'integer',
    default: 900,
    valueName: 'SECONDS',
    description: 'deadline of the call',
    schema: { minimum: 1 },
  },
  ...clientTlsOptions,
} as const satisfies OptionsSpec;

/**
 * Connects to `values.agent` (over TLS when the TLS options say so), runs `work`, closes. When no agent
 * answers there, the error says how to start one.
 */
export async function withAgent<T>(
  values: ClientTlsValues & { agent: string },
  work: (client: AgentConnection) => Promise<T>,
): Promise<T> {
  const client = connectAgent(values.agent, agentChannelCredentials(values));
  try {
    return await work(client);
  } catch (err) {
    const address = unreachableAgentOf(err);
    if (address === undefined) throw err;
    throw new SnapbackError(
      ErrorCode.UNAVAILABLE,
      `${(err as SnapbackError).message} — start one with \`snapback agent --listen ${address}\``,
      { cause: err },
    );
  } finally {
    client.close();
  }
}

export function deadlineIn(seconds: number): Date {
  return new Date(Date.now() + seconds * 1000);
}

export function printJson(io: CommandIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** `inspect 12.3 ms, criuDump 2041.0 ms, …` */
export function formatDurations(durations: Record<string, number>): string {
  return Object.entries(durations)
    .map(([phase, ms]) => `${phase} ${ms.toFixed(1)} ms`)
    .join(', ');
}

/**
 * Runs `act` for each item, on past a failure as `docker stop A B` goes on to B: each failure is said on
 * stderr, and the exit status is the first failure's (0 when none failed).
 */
export async function failEach(
  io: CommandIo,
  command: string,
  items: readonly string[],
  act: (item: string) => Promise<void>,
): Promise<number> {
  let exit = 0;
  for (const item of items) {
    try {
      await act(item);
    } catch (err) {
      const error = SnapbackError.from(err);
      if (unreachableAgentOf(error) !== undefined) throw error;
      io.stderr.write(`snapback ${command}: ${error.code}: ${error.message}\n`);
      if (exit === 0) exit = exitCodeOf[error.code];
    }
  }
  return exit;
}
