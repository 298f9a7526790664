/** `snapback delete`: remove checkpoints from the agent's storage, as `docker rm` removes containers. */
import { loadConfig } from '../../config/load-config.js';
import type { OptionsSpec } from '../../config/options.js';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { clientOptions, deadlineIn, failEach, printJson, withAgent } from '../client-options.js';
import { defineCommand } from '../command.js';

const options = {
  ...clientOptions,
  ignoreNotFound: {
    type: 'boolean',
    default: false,
    description: 'a checkpoint that is not there is no error (as kubectl delete --ignore-not-found)',
  },
} as const satisfies OptionsSpec;

export const deleteCommand = defineCommand({
  name: 'delete',
  summary: 'delete checkpoints (refused while a restore reads one)',
  usage: 'ID… [--ignore-not-found] [--agent ADDR] [--json]',
  options,
  maxPositionals: Number.POSITIVE_INFINITY,
  async run(argv, io) {
    const { values, positionals: ids } = loadConfig(options, argv, io.env, {
      maxPositionals: Number.POSITIVE_INFINITY,
    });
    if (ids.length === 0) {
      throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, 'no checkpoint named', {
        details: [
          { field: 'ID', message: 'name at least one checkpoint to delete (`snapback list` lists them)' },
        ],
      });
    }
    const deadline = deadlineIn(values.timeout);
    const deleted: string[] = [];
    const exit = await withAgent(values, (client) =>
      failEach(io, 'delete', ids, async (id) => {
        const { deleted: removed } = await client.deleteCheckpoint({ checkpointId: id }, { deadline });
        if (!removed && !values.ignoreNotFound)
          throw new SnapbackError(ErrorCode.NOT_FOUND, `no checkpoint with id ${id}`);
        if (removed) deleted.push(id);
        if (!values.json) io.stdout.write(removed ? `deleted ${id}\n` : `${id} was not there\n`);
      }),
    );
    if (values.json) printJson(io, { deleted });
    return exit;
  },
});
