/**
 * `snapback demo`, end to end on one machine (issue 8): agent + functions (local mode) + a sink; a model
 * server started through `snapback run` and timed to its first correct answer; an AWS spot warning that
 * checkpoints it; the node "dies"; a restore request brings it back, timed the same way and proven to
 * be the same process; a table. Everything started is stopped at the end, on success, failure or Ctrl-C.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CloudEvent } from 'cloudevents';
import { connectAgent } from '../agent/client.js';
import { ErrorCode, SnapbackError } from '../errors.js';
import type { CheckpointOutcomeData } from '../events/types.js';
import { processTree, residentBytes } from '../lib/procfs/index.js';
import type { DemoContext, DemoOptions } from './context.js';
import { formatEventLine } from './event-lines.js';
import { providerIdOf } from './events.js';
import { type DemoResult, formatReport } from './report.js';
import { restoreByRunLatest } from './run-restore.js';
import { startSink } from './sink.js';
import { startAgentProcess, startFunctionsProcess } from './stack.js';
import {
  type ColdStart,
  coldStart,
  killModelServer,
  type Restored,
  restoreByEvent,
  spotWarning,
} from './steps.js';
import { createTeardown, stopWorkloads } from './teardown.js';

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { out, signal } = options;
  const say = (text: string) => out.write(out.tty ? `\r\x1b[2K${text}` : text);
  const storage = join(options.dir, 'checkpoints');
  const stateDir = join(options.dir, 'state');
  const logs = join(options.dir, 'logs');
  const teardown = createTeardown();
  const arrivals = new Map<CloudEvent<unknown>, number>();
  const pids = new Set<number>();
  let phase: string | undefined;
  let agentAddress: string | undefined;
  try {
    say('[1/5] starting the agent, the functions (local mode) and an event sink\n');
    // A previous run's checkpoints and workloads are not this run's.
    await rm(storage, { recursive: true, force: true });
    await rm(stateDir, { recursive: true, force: true });
    await mkdir(logs, { recursive: true });
    const sink = await startSink((event) => {
      arrivals.set(event, performance.now());
      say(`  ${formatEventLine(event)}\n`);
    });
    teardown.add('the sink', sink.close);
    const agent = await startAgentProcess({
      storage,
      stateDir,
      node: options.node,
      logFile: join(logs, 'agent.log'),
      signal,
    });
    agentAddress = agent.address;
    teardown.add('the agent', () => agent.service.stop());
    // Registered after the agent and before the functions: runs after the functions have drained (a
    // restore in flight has finished) and while the agent still answers.
    teardown.add('the workloads', () => stopWorkloads(agentAddress, stateDir, pids));
    const providerId = providerIdOf(options.instance);
    const functions = await startFunctionsProcess({
      agent: agent.address,
      node: options.node,
      providerId,
      sink: sink.url,
      logFile: join(logs, 'functions.log'),
      signal,
      onLog: (entry) => {
        if (entry['msg'] === 'progress' && typeof entry['phase'] === 'string') phase = entry['phase'];
      },
    });
    teardown.add('the functions', () => functions.service.stop());
    say(`  agent      ${agent.address} (node ${options.node}, process runtime, storage ${storage})\n`);
    say(`  functions  ${functions.url} (local mode, provider id ${providerId})\n`);
    say(`  sink       ${sink.url}\n  logs       ${logs}\n`);

    const context: DemoContext = {
      options,
      agent: agent.address,
      functions: functions.url,
      storage,
      stateDir,
      arrivals,
      events: sink.events,
      phase: () => phase,
      pids,
      say,
    };
    const cold = await coldStart(context);
    // The workload's pid is its init; the model server's memory is in the tree below it.
    const checkpoint = await spotWarning(context, await residentBytes(await processTree(cold.pid)));
    say('[4/5] the node dies: the model server is killed (SIGKILL); a restore request brings it back\n');
    await killModelServer(context, cold.url, cold.pid);
    const restored = await restoreByEvent(context, checkpoint.event, cold, false);
    const lazy = await lazyRestore(context, checkpoint.event, cold, restored);
    const running = typeof lazy === 'string' ? restored.event.restoredPid : lazy.event.restoredPid;
    await restoreByRunLatest(context, cold, running ?? 0);

    say('[5/5] results\n');
    const result: DemoResult = {
      model: options.model,
      node: options.node,
      coldStartMs: cold.ms,
      coldStartup: cold.first.startup,
      ...(cold.hooks ? { hooks: cold.hooks } : {}),
      checkpoint: {
        checkpointId: checkpoint.event.checkpointId,
        sizeBytes: checkpoint.event.sizeBytes ?? 0,
        durations: checkpoint.event.durations,
        noticeToEventMs: checkpoint.ms,
      },
      restore: {
        firstAnswerMs: restored.ms,
        durations: restored.event.durations,
        restoredPid: restored.event.restoredPid ?? 0,
      },
      ...(typeof lazy === 'string'
        ? { lazyNote: lazy }
        : {
            lazyRestore: {
              firstAnswerMs: lazy.ms,
              durations: lazy.event.durations,
              ...(lazy.pagesComplete ? { pagesCompleteMs: lazy.pagesComplete.ms } : {}),
            },
          }),
      proof: {
        nonce: restored.answer.nonce,
        counterAtCheckpoint: cold.last.counter,
        counterAfterRestore: restored.answer.counter,
        tokens: restored.answer.tokens,
      },
    };
    say(formatReport(result));
    return result;
  } catch (err) {
    throw failure(err, signal);
  } finally {
    const failed = await teardown.run();
    for (const what of failed) say(`  could not stop ${what}\n`);
    if (!options.keep) await rm(storage, { recursive: true, force: true });
    say(failed.length === 0 ? '  everything the demo started is stopped\n' : '');
  }
}

/**
 * The same checkpoint restored once more with CRIU lazy pages (the process resumes before its memory has
 * arrived), when the agent can; otherwise why not, for the table.
 */
async function lazyRestore(
  context: DemoContext,
  checkpoint: CheckpointOutcomeData,
  cold: ColdStart,
  restored: Restored,
): Promise<Restored | string> {
  if (!context.options.lazy) return 'skipped (--no-lazy)';
  const client = connectAgent(context.agent);
  const info = await client
    .getInfo({}, { deadline: new Date(Date.now() + 10_000) })
    .finally(() => client.close());
  if (!info.lazyPages) return 'not on this node (no userfaultfd)';
  context.say('  once more with lazy pages: the process resumes before its memory has arrived\n');
  await killModelServer(context, cold.url, restored.event.restoredPid ?? 0);
  return restoreByEvent(context, checkpoint, cold, true);
}

function failure(err: unknown, signal: AbortSignal): SnapbackError {
  if (signal.aborted) return SnapbackError.from(signal.reason, ErrorCode.CANCELLED);
  return SnapbackError.from(err);
}
