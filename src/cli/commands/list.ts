/** `snapback list` and `snapback inspect`: what an agent holds. */
import { loadConfig } from '../../config/load-config.js';
import type { OptionsSpec } from '../../config/options.js';
import { checkpointSummary, checkpointTable, manifestOf, sourceOf } from '../checkpoint-summary.js';
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
    if (values.json) {
      const rows = checkpoints.map((c) => ({
        checkpointId: c.checkpointId,
        workload: sourceOf(manifestOf(c)),
        sizeBytes: Number(c.sizeBytes),
        createdAt: c.createdAt,
        location: c.location,
      }));
      printJson(io, { checkpoints: rows });
    } else if (checkpoints.length === 0) io.stdout.write('no checkpoints\n');
    else io.stdout.write(checkpointTable(checkpoints));
    return 0;
  },
});

const inspectOptions = {
  ...clientOptions,
  id: { type: 'string', required: true, valueName: 'ID', description: 'checkpoint id' },
} as const satisfies OptionsSpec;

export const inspectCommand = defineCommand({
  name: 'inspect',
  summary: 'show what a checkpoint holds (--json: its whole manifest)',
  usage: '--id ID [--agent ADDR] [--json]',
  options: inspectOptions,
  async run(argv, io) {
    const { values } = loadConfig(inspectOptions, argv, io.env);
    const info = await withAgent(values, (client) =>
      client.getCheckpoint({ checkpointId: values.id }, { deadline: deadlineIn(values.timeout) }),
    );
    if (values.json) printJson(io, manifestOf(info));
    else io.stdout.write(checkpointSummary(info));
    return 0;
  },
});
