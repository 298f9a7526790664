/**
 * The demo's steps 2–4, each checked: the cold start of the model server, the spot warning that
 * checkpoints it, the node dying, and the restore request that brings it back.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connectAgent } from '../agent/client.js';
import { ErrorCode, SnapbackError } from '../errors.js';
import type { CheckpointOutcomeData, RestoreOutcomeData } from '../events/types.js';
import { formatMs } from '../format.js';
import { isRunning } from '../lib/procfs/index.js';
import { storagePaths } from '../lib/storage/index.js';
import { type Answer, checkContinuingAnswer, checkFreshAnswer, ModelKind } from './answer.js';
import { type DemoContext, NAMESPACE, WORKLOAD, waitForOutcome } from './context.js';
import { postEvent, restoreRequested, spotInterruptionWarning } from './events.js';
import {
  askModel,
  freePort,
  isListening,
  modelServerCommand,
  modelServerHooks,
  waitForCorrectAnswer,
} from './model-server.js';
import { watchCheckpoint } from './progress.js';
import { runSnapback } from './stack.js';

const describeModel: Record<ModelKind, string> = {
  [ModelKind.GPT2_SMALL]: 'a GPT-2-small-shaped transformer (seeded random weights), PyTorch on CPU',
  [ModelKind.TINY]: 'the tiny pure-Python stand-in model (no torch)',
};

export interface ColdStart {
  url: string;
  pid: number;
  ms: number;
  first: Answer;
  /** The last answer before the checkpoint: a restored server must continue from it. */
  last: Answer;
  /** The hooks it was started with, in their one-line form; absent without. */
  hooks?: { preCheckpoint: string; postRestore: string };
  /** `snapback run`'s command line for the server (after `--`) and its working directory. */
  command: string[];
  cwd: string;
}

async function tail(path: string, lines = 8): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n    ');
}

export async function coldStart(context: DemoContext): Promise<ColdStart> {
  const { options, say } = context;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const command = modelServerCommand({
    python: options.python,
    script: join(options.root, 'workloads', 'model_server.py'),
    model: options.model,
    port,
  });
  const cwd = join(options.dir, 'workload');
  await mkdir(cwd, { recursive: true });
  const hooks = options.hooks ? modelServerHooks(port) : undefined;
  const hookFlags = hooks
    ? ['--pre-checkpoint', hooks.preCheckpoint, '--post-restore', hooks.postRestore]
    : [];
  say(`[2/5] starting the model server: ${describeModel[options.model]}, through \`snapback run\`\n`);
  say(
    `  $ snapback run --name ${WORKLOAD}${hooks ? ` --pre-checkpoint '${hooks.preCheckpoint}' --post-restore '${hooks.postRestore}'` : ''} -- ${command.join(' ')}\n`,
  );
  if (hooks) say('  (it sleeps before a checkpoint — its KV cache forgotten — and wakes after a restore)\n');
  const run = [
    'run',
    '--agent',
    context.agent,
    '--name',
    WORKLOAD,
    '--cwd',
    cwd,
    '--json',
    ...hookFlags,
    '--',
  ];
  const started = JSON.parse(await runSnapback([...run, ...command], options.signal)) as {
    pid: number;
    stderrPath: string;
    startedAt: string;
  };
  // Launch is the instant the agent started the process (its record says when), so the CLI's own start
  // is not counted against the cold start.
  const launchedAt = performance.now() - (Date.now() - Date.parse(started.startedAt));
  context.pids.add(started.pid);
  say(`  pid ${started.pid}; waiting for its first correct answer on ${url}/generate …\n`);
  const cold = await waitForCorrectAnswer({
    url,
    check: (body) => checkFreshAnswer(body, options.model),
    launchedAt,
    timeoutMs: options.coldStartTimeoutMs,
    signal: options.signal,
    gone: async () =>
      (await isRunning(started.pid))
        ? undefined
        : `the model server exited; its stderr ends:\n    ${await tail(started.stderrPath)}`,
  });
  const a = cold.answer;
  say(`  cold start: first correct answer after ${formatMs(cold.ms)}\n`);
  say(`    ${a.parameters.toLocaleString('en')} parameters, tokens [${a.tokens.join(', ')}]\n`);
  say(`    nonce ${a.nonce}, counter ${a.counter}\n`);
  // It serves: the counter moves on with every answer.
  let last = a;
  for (let i = 0; i < 2; i++) {
    const checked = checkContinuingAnswer(await askModel(url, 60_000, options.signal), last);
    if (!checked.ok)
      throw new SnapbackError(ErrorCode.INTERNAL, `wrong answer: ${checked.problems.join('; ')}`);
    last = checked.answer;
  }
  say(`  serving: counter ${last.counter}, same nonce\n`);
  return { url, pid: started.pid, ms: cold.ms, first: a, last, command, cwd, ...(hooks ? { hooks } : {}) };
}

export async function spotWarning(
  context: DemoContext,
  residentBytes: number,
): Promise<{ event: CheckpointOutcomeData; ms: number }> {
  const { options, say } = context;
  const { instanceId, zone } = options.instance;
  const notice = spotInterruptionWarning(options.instance, new Date());
  say(
    `[3/5] AWS EventBridge "EC2 Spot Instance Interruption Warning" for ${instanceId} (${zone}) → the functions\n`,
  );
  say(
    `  two minutes' notice; the node's provider id ends in ${instanceId}: every running workload is checkpointed\n`,
  );
  const watch = watchCheckpoint({
    stagingDir: storagePaths(context.storage).stagingRoot(options.node),
    expectedBytes: residentBytes,
    phase: context.phase,
    write: (text) => options.out.write(text),
    tty: options.out.tty,
  });
  const sentAt = performance.now();
  let reply: { status: number; body: string };
  try {
    reply = await postEvent(context.functions, notice, options.signal);
  } finally {
    await watch.stop();
  }
  if (reply.status !== 202) {
    throw new SnapbackError(ErrorCode.INTERNAL, `the functions answered ${reply.status}: ${reply.body}`);
  }
  // The functions deliver to the sink before they answer: the event is there already.
  const event = await waitForOutcome<CheckpointOutcomeData>(
    context.events,
    'checkpoint',
    notice.id,
    5_000,
    options.signal,
  );
  return { event: event.data!, ms: (context.arrivals.get(event) ?? performance.now()) - sentAt };
}

/** Kills the model server through the agent (SIGKILL) and checks nothing answers on its port any more. */
export async function killModelServer(context: DemoContext, url: string, pid: number): Promise<void> {
  const client = connectAgent(context.agent);
  try {
    await client.stopWorkload({ name: WORKLOAD }, { deadline: new Date(Date.now() + 30_000) });
  } finally {
    client.close();
  }
  context.pids.delete(pid);
  if (await isListening(url)) {
    throw new SnapbackError(ErrorCode.INTERNAL, `${url} still answers after the model server was killed`);
  }
  context.say(`  ${url}: connection refused, the server is gone\n`);
}

export interface Restored {
  ms: number;
  answer: Answer;
  event: RestoreOutcomeData;
  /** Lazy restores: request → `restore.pages-complete` (every page in), with that event's durations. */
  pagesComplete?: { ms: number; durations: Record<string, number> };
}

/**
 * Sends a restore request and times it to the first correct answer of the restored server, which must
 * continue from `cold.last` (the checkpoint's state). A lazy one is then followed to its second event.
 */
export async function restoreByEvent(
  context: DemoContext,
  checkpoint: CheckpointOutcomeData,
  cold: ColdStart,
  lazy: boolean,
): Promise<Restored> {
  const { options, say } = context;
  const data = {
    checkpointId: checkpoint.checkpointId,
    namespace: NAMESPACE,
    pod: WORKLOAD,
    ...(lazy ? { lazy } : {}),
  };
  const request = restoreRequested(data);
  say(`  → ${request.type} ${JSON.stringify(data)}\n`);
  const { url, last } = cold;
  const failFast = new AbortController();
  const launchedAt = performance.now();
  const posting = postEvent(context.functions, request, options.signal).then(
    async (reply) => {
      if (reply.status !== 202) {
        throw new SnapbackError(ErrorCode.INTERNAL, `the functions answered ${reply.status}: ${reply.body}`);
      }
      return waitForOutcome<RestoreOutcomeData>(context.events, 'restore', request.id, 5_000, options.signal);
    },
    (err: unknown) => {
      throw SnapbackError.from(err);
    },
  );
  // A failed restore ends the wait for an answer at once.
  posting.catch((err: unknown) => failFast.abort(err));
  const restored = await waitForCorrectAnswer({
    url,
    check: (body) => checkContinuingAnswer(body, last),
    launchedAt,
    timeoutMs: options.restoreTimeoutMs,
    signal: AbortSignal.any([options.signal, failFast.signal]),
  }).catch(async (err: unknown) => {
    await posting; // the restore's own failure says more than the aborted wait
    throw err;
  });
  const event = (await posting).data!;
  context.pids.add(event.restoredPid ?? 0);
  const a = restored.answer;
  say(
    `  restored: first correct answer ${formatMs(restored.ms)} after the request (pid ${event.restoredPid})\n`,
  );
  say(`    same nonce ${a.nonce}, counter ${a.counter} continues from ${last.counter}, same tokens\n`);
  if (!lazy) return { ms: restored.ms, answer: a, event };
  const complete = await waitForOutcome<RestoreOutcomeData>(
    context.events,
    'pagesComplete',
    request.id,
    options.restoreTimeoutMs,
    options.signal,
  );
  const ms = (context.arrivals.get(complete) ?? performance.now()) - launchedAt;
  say(`  every page arrived ${formatMs(ms)} after the request\n`);
  return { ms: restored.ms, answer: a, event, pagesComplete: { ms, durations: complete.data!.durations } };
}
