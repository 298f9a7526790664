/** `snapback run`: start a workload under the process runtime, known to the agent by name. */
import { hooksToMessage } from '../../agent/hooks-codec.js';
import { loadConfig } from '../../config/load-config.js';
import type { OptionsSpec } from '../../config/options.js';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { HOOK_GRAMMAR, parseWorkloadHooks } from '../../lib/hooks/index.js';
import { agentAddressOption, clientTlsOptions, printJson, withAgent } from '../client-options.js';
import { defineCommand } from '../command.js';

const options = {
  agent: agentAddressOption,
  name: {
    type: 'string',
    required: true,
    valueName: 'NAME',
    description: 'name of the workload (DNS-1123 label)',
  },
  env: {
    type: 'string[]',
    default: [],
    valueName: 'K=V',
    description: 'environment variables for the workload (repeatable)',
    schema: { pattern: '^[A-Za-z_][A-Za-z0-9_]*=' },
  },
  cwd: { type: 'string', valueName: 'DIR', description: 'working directory (default: the current one)' },
  preCheckpoint: {
    type: 'string',
    valueName: 'HOOK',
    description: `asked of the workload before each checkpoint (docs/hooks.md): ${HOOK_GRAMMAR}`,
  },
  postRestore: {
    type: 'string',
    valueName: 'HOOK',
    description:
      'asked of the workload after each restore, and of the original after a checkpoint that quiesced it',
  },
  json: { type: 'boolean', default: false, description: 'print one JSON object on stdout' },
  ...clientTlsOptions,
} as const satisfies OptionsSpec;

export const runCommand = defineCommand({
  name: 'run',
  summary: 'start a workload under the process runtime, known to the agent by name',
  usage: "--name NAME [--pre-checkpoint 'http POST :PORT/PATH'] [--post-restore HOOK] -- CMD [ARGS…]",
  options,
  async run(argv, io) {
    const { values, positionals } = loadConfig(options, argv, io.env);
    if (positionals.length === 0) {
      throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, 'no command given', {
        details: [{ field: '-- CMD', message: 'a command to run is required after --' }],
      });
    }
    const env = Object.fromEntries(
      values.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    // Checked here, naming the flag, before anything is asked of the agent.
    const hooks = parseWorkloadHooks(
      { preCheckpoint: values.preCheckpoint, postRestore: values.postRestore },
      { preCheckpoint: '--pre-checkpoint', postRestore: '--post-restore' },
    );
    const workload = await withAgent(values, (client) =>
      client.startWorkload({
        name: values.name,
        command: positionals,
        cwd: values.cwd ?? process.cwd(),
        env,
        ...(hooks === undefined ? {} : { hooks: hooksToMessage(hooks) }),
      }),
    );
    if (values.json) printJson(io, workload);
    else
      io.stdout.write(`started ${workload.name} (pid ${workload.pid}); output in ${workload.stdoutPath}\n`);
    return 0;
  },
});
