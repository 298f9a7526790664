/** `snapback restore`: restore a checkpoint through an agent. */
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
  lazy: {
    type: 'boolean',
    description: "resume before all memory has arrived (CRIU lazy pages; default: the agent's setting)",
  },
  allowPortClash: {
    type: 'boolean',
    default: false,
    description:
      'process runtime: restore even where something already listens on a port the workload listened on (without: refused)',
  },
} as const satisfies OptionsSpec;

export const restoreCommand = defineCommand({
  name: 'restore',
  summary: 'restore a checkpoint through an agent',
  usage: '--id ID [--name NAME] [--lazy] [--allow-port-clash] [--timeout S] [--json]',
  options,
  async run(argv, io) {
    const { values } = loadConfig(options, argv, io.env);
    const progress = createProgressPrinter(io.stderr, !values.json);
    const output = await withAgent(values, async (client) => {
      const first = await client.restore(
        {
          checkpointId: values.id,
          ...(values.name === undefined
            ? {}
            : {
                target: { namespace: values.namespace, pod: values.name, container: values.container ?? '' },
              }),
          noCuda: values.noCuda,
          allowPortClash: values.allowPortClash,
          ...(values.lazy === undefined ? {} : { lazy: values.lazy }),
        },
        { deadline: deadlineIn(values.timeout), signal: io.signal, onProgress: progress.update },
      );
      const describe = (r: typeof first) => ({
        checkpointId: r.checkpointId,
        restoredPid: r.restoredPid,
        namespacePid: r.namespacePid,
        workload: r.workload,
        durations: r.durationsMs,
        node: r.node,
      });
      if (first.pagesComplete === undefined) return describe(first);
      if (!values.json) {
        progress.done();
        io.stdout.write(
          `restored ${first.checkpointId} as ${first.workload} (pid ${first.restoredPid}): running, pages arriving\n`,
        );
      }
      return describe(await first.pagesComplete);
    }).finally(progress.done);
    if (values.json) printJson(io, output);
    else {
      const lazy = output.durations['pagesComplete'] === undefined ? '' : ', every page arrived';
      io.stdout.write(
        `restored ${output.checkpointId} as ${output.workload} (pid ${output.restoredPid})${lazy}\n`,
      );
      io.stdout.write(`  ${formatDurations(output.durations)}\n`);
    }
    return 0;
  },
});
