/** `snapback list` and `snapback inspect`: what an agent holds. */
import { loadConfig } from '../../config/load-config.js';
import type { OptionsSpec } from '../../config/options.js';
import { formatBytes } from '../../format.js';
import { clientOptions, deadlineIn, printJson, withAgent } from '../client-options.js';
import { defineCommand } from '../command.js';

export const listCommand = defineCommand({
  name: 'list',
  summary: 'list the checkpoints an agent holds',
  usage: '[--agent ADDR] [--json]',
  options: clientOptions,
  async run(argv, io) {
    const { values } = loadConfig(clientOptions, argv, io.env);
    const { checkpoints } = await withAgent(values, (client) =>
      client.listCheckpoints({}, { deadline: deadlineIn(values.timeout) }),
    );
    const rows = checkpoints.map((c) => ({
      checkpointId: c.checkpointId,
      sizeBytes: Number(c.sizeBytes),
      createdAt: c.createdAt,
      location: c.location,
    }));
    if (values.json) printJson(io, { checkpoints: rows });
    else if (rows.length === 0) io.stdout.write('no checkpoints\n');
    else
      for (const r of rows)
        io.stdout.write(
          `${r.checkpointId.padEnd(40)} ${formatBytes(r.sizeBytes).padStart(10)}  ${r.createdAt}\n`,
        );
    return 0;
  },
});

const inspectOptions = {
  ...clientOptions,
  id: { type: 'string', required: true, valueName: 'ID', description: 'checkpoint id' },
} as const satisfies OptionsSpec;

export const inspectCommand = defineCommand({
  name: 'inspect',
  summary: "show a checkpoint's manifest",
  usage: '--id ID [--agent ADDR]',
  options: inspectOptions,
  async run(argv, io) {
    const { values } = loadConfig(inspectOptions, argv, io.env);
    const info = await withAgent(values, (client) =>
      client.getCheckpoint({ checkpointId: values.id }, { deadline: deadlineIn(values.timeout) }),
    );
    printJson(io, JSON.parse(info.manifestJson));
    return 0;
  },
});
