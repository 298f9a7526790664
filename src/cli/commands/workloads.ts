/**
 * `snapback ps` and `snapback stop`: the process runtime's workloads, as `docker ps` and `docker stop` show
 * and stop containers. A workload's pid is its snapback-init, which forwards signals to the command: `kill
 * PID` and `snapback stop NAME` both end it as users expect.
 */
import type { Workload } from '../../agent/client.js';
import { loadConfig } from '../../config/load-config.js';
import type { OptionsSpec } from '../../config/options.js';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { columns, formatAge, truncate } from '../../format.js';
import { clientOptions, deadlineIn, failEach, printJson, withAgent } from '../client-options.js';
import { defineCommand } from '../command.js';

const psOptions = {
  ...clientOptions,
  all: {
    type: 'boolean',
    short: 'a',
    default: false,
    description: 'also the workloads that have ended',
  },
} as const satisfies OptionsSpec;

/** A workload as `ps --json` prints it. */
function describe(w: Workload) {
  return {
    name: w.name,
    pid: w.pid,
    running: w.running,
    command: w.command,
    startedAt: w.startedAt,
    restoredFrom: w.restoredFrom || undefined,
    stdoutPath: w.stdoutPath,
    stderrPath: w.stderrPath,
  };
}

export const psCommand = defineCommand({
  name: 'ps',
  summary: "list the agent's workloads (process runtime): running ones, or --all",
  usage: '[--all] [--agent ADDR] [--json]',
  options: psOptions,
  async run(argv, io) {
    const { values } = loadConfig(psOptions, argv, io.env);
    const { workloads } = await withAgent(values, (client) =>
      client.listWorkloads({}, { deadline: deadlineIn(values.timeout) }),
    );
    const shown = workloads
      .filter((w) => values.all || w.running)
      .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    if (values.json) {
      printJson(io, { workloads: shown.map(describe) });
      return 0;
    }
    if (shown.length === 0) {
      const ended = workloads.length - shown.length;
      io.stdout.write(`no workloads running${ended > 0 ? ` (${ended} ended: --all lists them)` : ''}\n`);
      return 0;
    }
    const rows = shown.map((w) => [
      w.name,
      String(w.pid),
      w.running ? 'running' : 'ended',
      formatAge(w.startedAt),
      w.restoredFrom || '-',
      truncate(w.command.join(' '), 48),
    ]);
    io.stdout.write(columns([['NAME', 'PID', 'STATUS', 'STARTED', 'RESTORED FROM', 'COMMAND'], ...rows]));
    return 0;
  },
});

const stopOptions = {
  ...clientOptions,
  gracePeriod: {
    type: 'integer',
    default: 10,
    valueName: 'SECONDS',
    description: 'how long SIGTERM has to end a workload before SIGKILL does (0: SIGKILL at once)',
    schema: { minimum: 0, maximum: 3600 },
  },
} as const satisfies OptionsSpec;

export const stopCommand = defineCommand({
  name: 'stop',
  summary: 'stop workloads (process runtime): SIGTERM, then SIGKILL after a grace period',
  usage: 'NAME… [--grace-period SECONDS] [--agent ADDR] [--json]',
  options: stopOptions,
  maxPositionals: Number.POSITIVE_INFINITY,
  async run(argv, io) {
    const { values, positionals: names } = loadConfig(stopOptions, argv, io.env, {
      maxPositionals: Number.POSITIVE_INFINITY,
    });
    if (names.length === 0) {
      throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, 'no workload named', {
        details: [
          { field: 'NAME', message: 'name at least one workload to stop (`snapback ps` lists them)' },
        ],
      });
    }
    const deadline = deadlineIn(values.timeout);
    const stopped: ReturnType<typeof describe>[] = [];
    const exit = await withAgent(values, async (client) => {
      const { workloads } = await client.listWorkloads({}, { deadline });
      return failEach(io, 'stop', names, async (name) => {
        const known = workloads.find((w) => w.name === name);
        if (known === undefined) throw new SnapbackError(ErrorCode.NOT_FOUND, `no workload named ${name}`);
        const after = await client.stopWorkload(
          { name, gracePeriodSeconds: values.gracePeriod },
          { deadline, signal: io.signal },
        );
        stopped.push(describe(after));
        if (!values.json) io.stdout.write(known.running ? `stopped ${name}\n` : `${name} was not running\n`);
      });
    });
    if (values.json) printJson(io, { workloads: stopped });
    return exit;
  },
});
