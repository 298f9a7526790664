/** `snapback run`: start a workload under the process runtime, known to the agent by name. */
import type { AgentConnection, RestoreCallResult } from '../../agent/client.js';
import { hooksToMessage } from '../../agent/hooks-codec.js';
import { loadConfig } from '../../config/load-config.js';
import type { OptionsSpec } from '../../config/options.js';
import { ErrorCode, SnapbackError } from '../../errors.js';
import type { WorkloadHooks } from '../../generated/snapback/agent/v1/agent.js';
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
  restore: {
    type: 'string',
    valueName: 'latest|ID',
    description:
      'restore the workload instead of starting it: from its latest checkpoint (`latest`) or the one named; the command starts it when there is none',
    schema: { pattern: '^(latest|[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$' },
  },
  json: { type: 'boolean', default: false, description: 'print one JSON object on stdout' },
  ...clientTlsOptions,
} as const satisfies OptionsSpec;

/**
 * The one-machine form of a replacement pod's restore (docs/architecture.md): the latest checkpoint of the
 * workload `name` that this command can take (same program, architecture and GPUs), or the one named.
 * Resolves with the restore, or with why there is nothing to restore.
 */
async function restoreInstead(
  client: AgentConnection,
  name: string,
  which: string,
  command: readonly string[],
  hooks: WorkloadHooks | undefined,
): Promise<RestoreCallResult | { why: string }> {
  let checkpointId = which;
  if (which === 'latest') {
    const found = await client.findLatestCheckpoint({
      identity: { namespace: 'default', ownerKind: 'Workload', ownerName: name, image: command[0] ?? '' },
    });
    if (found.checkpoint === undefined) {
      const passed = found.passedOver.length > 0 ? ` (${found.passedOver.join('; ')})` : '';
      return { why: `no checkpoint of ${name} fits${passed}` };
    }
    checkpointId = found.checkpoint.checkpointId;
  }
  return client.restore({
    checkpointId,
    target: { namespace: 'default', pod: name },
    ...(hooks === undefined ? {} : { hooks }),
  });
}

export const runCommand = defineCommand({
  name: 'run',
  summary: 'start a workload under the process runtime, known to the agent by name',
  usage:
    "--name NAME [--restore latest|ID] [--pre-checkpoint 'http POST :PORT/PATH'] [--post-restore HOOK] -- CMD [ARGS…]",
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
    const parsed = parseWorkloadHooks(
      { preCheckpoint: values.preCheckpoint, postRestore: values.postRestore },
      { preCheckpoint: '--pre-checkpoint', postRestore: '--post-restore' },
    );
    const hooks = parsed === undefined ? undefined : hooksToMessage(parsed);
    return withAgent(values, async (client) => {
      const restored =
        values.restore === undefined
          ? undefined
          : await restoreInstead(client, values.name, values.restore, positionals, hooks);
      if (restored !== undefined && 'restoredPid' in restored) {
        if (values.json) printJson(io, restored);
        else
          io.stdout.write(
            `restored ${values.name} from ${restored.checkpointId} (pid ${restored.restoredPid})\n`,
          );
        return 0;
      }
      if (restored !== undefined && !values.json)
        io.stdout.write(`${restored.why}: starting ${values.name} cold\n`);
      const workload = await client.startWorkload({
        name: values.name,
        command: positionals,
        cwd: values.cwd ?? process.cwd(),
        env,
        ...(hooks === undefined ? {} : { hooks }),
      });
      if (values.json) printJson(io, workload);
      else
        io.stdout.write(`started ${workload.name} (pid ${workload.pid}); output in ${workload.stdoutPath}\n`);
      return 0;
    });
  },
});
