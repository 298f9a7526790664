/** `snapback demo`: the end-to-end demo on this machine (src/demo/). */
import { resolve } from 'node:path';
import { loadConfig } from '../../config/load-config.js';
import type { OptionsSpec } from '../../config/options.js';
import { ModelKind } from '../../demo/answer.js';
import { runDemo } from '../../demo/run-demo.js';
import { printJson } from '../client-options.js';
import { defineCommand } from '../command.js';
import { projectRoot } from '../self.js';

const options = {
  model: {
    type: 'string',
    default: ModelKind.GPT2_SMALL,
    description: 'the model server: gpt2-small (PyTorch on CPU) or tiny (pure Python, no torch)',
    schema: { enum: Object.values(ModelKind) },
  },
  dir: {
    type: 'string',
    default: 'var/demo',
    valueName: 'DIR',
    description: "the demo's folder: checkpoints, agent state, logs",
    schema: { minLength: 1 },
  },
  python: {
    type: 'string',
    env: 'SNAPBACK_DEMO_PYTHON',
    default: '/usr/bin/python3',
    valueName: 'PATH',
    description: "the Python that runs the model server (Debian's, where python3-torch installs)",
  },
  node: { type: 'string', default: 'demo-node', description: 'the name of the demo node' },
  instanceId: {
    type: 'string',
    default: 'i-0123456789abcdef0',
    description: 'the EC2 instance the node pretends to be',
    schema: { pattern: '^i-[0-9a-f]{8,17}$' },
  },
  zone: { type: 'string', default: 'us-east-1a', description: 'its availability zone' },
  coldStartTimeout: {
    type: 'integer',
    default: 600,
    valueName: 'SECONDS',
    description: 'how long the cold start may take',
    schema: { minimum: 1 },
  },
  restoreTimeout: {
    type: 'integer',
    default: 300,
    valueName: 'SECONDS',
    description: 'how long the restore may take',
    schema: { minimum: 1 },
  },
  lazy: {
    type: 'boolean',
    default: true,
    description: 'also restore with CRIU lazy pages, when the agent can (--no-lazy: not)',
  },
  hooks: {
    type: 'boolean',
    default: true,
    description:
      'the model server sleeps before the checkpoint and wakes after the restore (--no-hooks: not)',
  },
  keep: { type: 'boolean', default: false, description: 'keep the checkpoint at the end' },
  json: { type: 'boolean', default: false, description: 'print the result as one JSON object at the end' },
} as const satisfies OptionsSpec;

export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'run the end-to-end demo on this machine: spot warning → checkpoint → restore, timed',
  usage: '[--model gpt2-small|tiny] [--dir DIR] [--python PATH] [--json]',
  options,
  async run(argv, io) {
    const { values } = loadConfig(options, argv, io.env);
    const result = await runDemo({
      root: projectRoot(),
      dir: resolve(values.dir),
      model: values.model as ModelKind,
      python: values.python,
      node: values.node,
      instance: { instanceId: values.instanceId, zone: values.zone },
      coldStartTimeoutMs: values.coldStartTimeout * 1000,
      restoreTimeoutMs: values.restoreTimeout * 1000,
      keep: values.keep,
      lazy: values.lazy,
      hooks: values.hooks,
      // With --json the story goes to stderr and stdout holds only the result.
      out: values.json
        ? { write: (t) => io.stderr.write(t), tty: io.stderr.isTTY === true }
        : { write: (t) => io.stdout.write(t), tty: io.stdout.isTTY === true },
      signal: io.signal,
    });
    if (values.json) printJson(io, result);
    return 0;
  },
});
