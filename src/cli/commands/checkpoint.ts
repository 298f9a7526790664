/** `snapback checkpoint`: checkpoint a workload through an agent. */
import { loadConfig } from '../../config/load-config.js';
import type { OptionsSpec } from '../../config/options.js';
import { formatBytes } from '../../format.js';
import { clientOptions, deadlineIn, formatDurations, printJson, withAgent } from '../client-options.js';
import { defineCommand } from '../command.js';
import { createProgressPrinter } from '../progress.js';

const options = {
  ...clientOptions,
  target: {
    type: 'string',
    required: true,
    valueName: 'NAME',
    description: 'workload name (process runtime) or pod',
  },
  namespace: { type: 'string', default: 'default', description: 'namespace of the pod' },
  container: { type: 'string', description: 'container of the pod (default: the first)' },
  id: {
    type: 'string',
    valueName: 'ID',
    description: 'checkpoint id, a DNS-1123 label (default: <target>-<digest of the target>)',
  },
  stop: {
    type: 'boolean',
    default: false,
    description: 'stop the workload once the checkpoint is safely stored',
  },
  replace: {
    type: 'boolean',
    default: false,
    description: 'take a new checkpoint even if one of this id exists (without: it is reused, exit 0)',
  },
  noCuda: { type: 'boolean', default: false, description: 'skip the CUDA phase' },
  bestEffortHooks: {
    type: 'boolean',
    default: false,
    description: 'a failing pre-checkpoint hook is reported and the checkpoint goes on (docs/hooks.md)',
  },
} as const satisfies OptionsSpec;

export const checkpointCommand = defineCommand({
  name: 'checkpoint',
  summary: 'checkpoint a workload through an agent',
  usage: '--target NAME [--id ID] [--stop] [--replace] [--timeout S] [--json]',
  options,
  async run(argv, io) {
    const { values } = loadConfig(options, argv, io.env);
    const progress = createProgressPrinter(io.stderr, !values.json);
    // What the agent says along the way that the result cannot (a hook skipped or failed, best effort).
    const notes: string[] = [];
    const result = await withAgent(values, (client) =>
      client.checkpoint(
        {
          target: { namespace: values.namespace, pod: values.target, container: values.container ?? '' },
          checkpointId: values.id ?? '',
          leaveRunning: !values.stop,
          replace: values.replace,
          noCuda: values.noCuda,
          bestEffortHooks: values.bestEffortHooks,
        },
        {
          deadline: deadlineIn(values.timeout),
          signal: io.signal,
          onProgress: (p) => {
            if (p.message !== '') notes.push(`${p.phase}: ${p.message}`);
            progress.update(p);
          },
        },
      ),
    ).finally(progress.done);
    const output = {
      checkpointId: result.checkpointId,
      location: result.location,
      sizeBytes: Number(result.sizeBytes),
      durations: result.durationsMs,
      node: result.node,
      reused: result.reused,
      version: result.version,
      createdAt: result.createdAt,
      ...(notes.length > 0 ? { notes } : {}),
    };
    if (values.json) printJson(io, output);
    else if (result.reused) {
      // Nothing was dumped: the durations and the time are the earlier checkpoint's, and the user most
      // likely expected a new one.
      io.stdout.write(
        `checkpoint ${output.checkpointId} already existed (taken ${output.createdAt}, ${formatBytes(output.sizeBytes)}): reused, nothing dumped\n`,
      );
      io.stdout.write('  --replace takes a new checkpoint under this id; --id NAME one under another\n');
    } else {
      io.stdout.write(
        `checkpoint ${output.checkpointId} written: ${formatBytes(output.sizeBytes)} at ${output.location}\n`,
      );
      io.stdout.write(`  ${formatDurations(output.durations)}\n`);
      for (const note of notes) io.stdout.write(`  ${note}\n`);
    }
    return 0;
  },
});
