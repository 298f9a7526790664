/**
 * Every snapback container runs a command the CLI has (`agent`, `watch`, or `function <name>`), every
 * variable the manifests give it is one that command's option table reads, and the values — with what a
 * SinkBinding injects — pass the command's own loadConfig (types, enums, patterns, required settings), so
 * a typo'd, stale or missing variable fails here instead of at start-up.
 */
import { agentOptions } from '../../src/cli/agent-options.js';
import { options as functionOptions } from '../../src/cli/commands/function.js';
import { watchOptions } from '../../src/cli/watch-options.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { OptionsSpec } from '../../src/config/options.js';
import { SnapbackError } from '../../src/errors.js';
import { functionNames } from '../../src/http/context.js';
import type { SnapbackContainer } from './containers.js';
import type { Problem } from './load.js';

interface Command {
  options: OptionsSpec;
  maxPositionals: number;
}

const commands: Readonly<Record<string, Command>> = {
  agent: { options: agentOptions, maxPositionals: 0 },
  function: { options: functionOptions, maxPositionals: 1 },
  watch: { options: watchOptions, maxPositionals: 0 },
};

/** Set by Knative Serving itself; a Service may not set them. */
const knativeReserved: ReadonlySet<string> = new Set(['PORT', 'K_SERVICE', 'K_CONFIGURATION', 'K_REVISION']);

/** The env variables an options table reads. */
export function envNamesOf(options: OptionsSpec): Set<string> {
  return new Set(Object.values(options).flatMap((o) => (o.env === undefined ? [] : [o.env])));
}

export function checkEnv(containers: readonly SnapbackContainer[], problems: Problem[]): void {
  for (const { where, container, env, injected, manifest } of containers) {
    const [name = '', ...argv] = container.args ?? [];
    const command = commands[name];
    if (container.command !== undefined || command === undefined) {
      problems.push({
        where,
        message: `container ${container.name} must run \`snapback agent\`, \`snapback watch\` or \`snapback function NAME\` (args), not ${JSON.stringify(container.command ?? container.args ?? [])}`,
      });
      continue;
    }
    if (name === 'function' && !(functionNames as readonly string[]).concat('all').includes(argv[0] ?? '')) {
      problems.push({
        where,
        message: `container ${container.name}: no function ${JSON.stringify(argv[0])}`,
      });
    }
    const read = envNamesOf(command.options);
    for (const variable of Object.keys(env)) {
      if (!read.has(variable)) {
        problems.push({
          where,
          message: `container ${container.name}: env ${variable} is read by no option of \`snapback ${name}\``,
        });
      }
      if (manifest.object['kind'] === 'Service' && knativeReserved.has(variable)) {
        problems.push({ where, message: `container ${container.name}: ${variable} is reserved by Knative` });
      }
    }
    try {
      loadConfig(command.options, argv, { ...injected, ...env }, { maxPositionals: command.maxPositionals });
    } catch (err) {
      if (!(err instanceof SnapbackError)) throw err;
      const details = err.details.map((d) => `${d.field}: ${d.message}`).join('; ');
      problems.push({
        where,
        message: `container ${container.name}: snapback ${name} rejects its config: ${details}`,
      });
    }
  }
}
