/** `snapback restore`: restore a checkpoint through an agent. */
import { restoreCall } from '../../agent/client.js';
import { loadConfig } from '../../config/load-config.js';
import type { OptionsSpec } from '../../config/options.js';
import { clientOptions, deadlineIn, formatDurations, printJson, withAgent } from '../client-options.js';
import { defineCommand } from '../command.js';
import { createProgressPrinter } from '../progress.js';

const options = {
  ...clientOptions,
  id: { type: 'string', required: true, valueName: 'ID', description: 'checkpoint id' },
  name: {
    type: 'string',
    valueName: 'NAME',
    description: 'restore as this workload (process) or into this placeholder pod',
  },
  namespace: { type: 'string', default: 'default', description: 'namespace of the placeholder pod' },
  container: { type: 'string', description: 'container of the placeholder pod' },
  noCuda: { type: 'boolean', default: false, description: 'skip the CUDA phase' },
} as const satisfies OptionsSpec;

export const restoreCommand = defineCommand({
  name: 'restore',
  summary: 'restore a checkpoint through an agent',
  usage: '--id ID [--name NAME] [--timeout S] [--json]',
  options,
  async run(argv, io) {
    const { values } = loadConfig(options, argv, io.env);
    const progress = createProgressPrinter(io.stderr, !values.json);
    const result = await withAgent(values.agent, (client) =>
      restoreCall(
        client,
        {
          checkpointId: values.id,
          ...(values.name === undefined
            ? {}
            : {
                target: { namespace: values.namespace, pod: values.name, container: values.container ?? '' },
              }),
          noCuda: values.noCuda,
        },
        { deadline: deadlineIn(values.timeout), signal: io.signal, onProgress: progress.update },
      ),
    ).finally(progress.done);
    const output = {
      checkpointId: result.checkpointId,
      restoredPid: result.restoredPid,
      namespacePid: result.namespacePid,
      workload: result.workload,
      durations: result.durationsMs,
      node: result.node,
    };
    if (values.json) printJson(io, output);
    else {
      io.stdout.write(`restored ${output.checkpointId} as ${output.workload} (pid ${output.restoredPid})\n`);
      io.stdout.write(`  ${formatDurations(output.durations)}\n`);
    }
    return 0;
  },
});
