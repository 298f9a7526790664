/**
 * What a workload's hooks save (docs/hooks.md): the demo's model server (workloads/model_server.py)
 * checkpointed and restored through the agent as it runs, and asleep — vLLM's sleep mode
 * (https://docs.vllm.ai/en/latest/features/sleep_mode/): level 1 forgets the KV cache, level 2 the weights
 * too — with the post-restore hook waking it. Image size; checkpoint = request → published (the pre hook
 * and the original's wake included); restore = request → result (the post hook included) and → the
 * restored server's first correct answer. gpt2-small when torch is importable; otherwise the tiny stand-in
 * model with a larger KV cache, whose level 2 would drop next to nothing and is not measured.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hooksToMessage } from '../src/agent/hooks-codec.js';
import { checkContinuingAnswer, checkFreshAnswer, ModelKind } from '../src/demo/answer.js';
import { askModel, freePort, modelServerCommand, waitForCorrectAnswer } from '../src/demo/model-server.js';
import { parseWorkloadHooks } from '../src/lib/hooks/index.js';
import { type BenchAgent, deleteCheckpoint, python, root, stopWorkload, timed } from './agent.js';
import { torchMissing } from './demo-workload.js';
import { medianPhases, type Summary, summarize } from './stats.js';

export interface HooksVariant {
  /** 0: no hooks; 1 or 2: the sleep level the pre-checkpoint hook asks for. */
  sleepLevel: number;
  sizeBytes: Summary;
  checkpointMs: Summary;
  restoreMs: Summary;
  firstAnswerMs: Summary;
  checkpointPhases: Record<string, number>;
  restorePhases: Record<string, number>;
}

export interface HooksBenchResult {
  model: ModelKind;
  /** Why the tiny stand-in was measured instead of gpt2-small (torch absent), when it was. */
  standIn?: string;
  kvCacheMib: number;
  runs: number;
  variants: HooksVariant[];
}

const STAND_IN_KV_CACHE_MIB = 512;
const GPT2_KV_CACHE_MIB = 256;

export async function benchHooks(
  agent: BenchAgent,
  dir: string,
  signal: AbortSignal,
  runs = 3,
): Promise<HooksBenchResult> {
  const missing = torchMissing();
  const model = missing === undefined ? ModelKind.GPT2_SMALL : ModelKind.TINY;
  const kvCacheMib = missing === undefined ? GPT2_KV_CACHE_MIB : STAND_IN_KV_CACHE_MIB;
  const levels = missing === undefined ? [0, 1, 2] : [0, 1];
  const samples = new Map<number, Sample[]>(levels.map((level) => [level, []]));
  // The variants take turns, run after run: a machine whose load drifts weighs on each alike.
  for (let i = 0; i < runs; i++) {
    for (const sleepLevel of levels) {
      const sample = await once(
        agent,
        dir,
        { model, kvCacheMib, sleepLevel, name: `hooks-l${sleepLevel}-${i}` },
        signal,
      );
      samples.get(sleepLevel)!.push(sample);
      process.stdout.write(
        `  run ${i + 1}/${runs}, sleep level ${sleepLevel}: image ${Math.round(sample.sizeBytes / 2 ** 20)} MiB, checkpoint ${Math.round(sample.checkpointMs)} ms, restore ${Math.round(sample.restoreMs)} ms\n`,
      );
    }
  }
  const variants = levels.map((sleepLevel): HooksVariant => {
    const of = samples.get(sleepLevel)!;
    return {
      sleepLevel,
      sizeBytes: summarize(of.map((s) => s.sizeBytes)),
      checkpointMs: summarize(of.map((s) => s.checkpointMs)),
      restoreMs: summarize(of.map((s) => s.restoreMs)),
      firstAnswerMs: summarize(of.map((s) => s.firstAnswerMs)),
      checkpointPhases: medianPhases(of.map((s) => s.checkpointPhases)),
      restorePhases: medianPhases(of.map((s) => s.restorePhases)),
    };
  });
  return { model, ...(missing === undefined ? {} : { standIn: missing }), kvCacheMib, runs, variants };
}

interface Sample {
  sizeBytes: number;
  checkpointMs: number;
  restoreMs: number;
  firstAnswerMs: number;
  checkpointPhases: Record<string, number>;
  restorePhases: Record<string, number>;
}

async function once(
  agent: BenchAgent,
  dir: string,
  spec: { model: ModelKind; kvCacheMib: number; sleepLevel: number; name: string },
  signal: AbortSignal,
): Promise<Sample> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const hooks =
    spec.sleepLevel === 0
      ? undefined
      : parseWorkloadHooks(
          {
            preCheckpoint: `http POST :${port}/sleep?level=${spec.sleepLevel}`,
            postRestore: `http POST :${port}/wake_up`,
          },
          { preCheckpoint: 'bench', postRestore: 'bench' },
        );
  // A working directory of its own: dumps of tasks sharing one are serialised (src/executor/dump-lock.ts).
  const cwd = join(dir, 'cwd', spec.name);
  await mkdir(cwd, { recursive: true });
  const command = modelServerCommand({
    python,
    script: join(root, 'workloads', 'model_server.py'),
    model: spec.model,
    port,
  });
  const launchedAt = performance.now();
  await agent.client.startWorkload({
    name: spec.name,
    command: [...command, '--kv-cache-mib', String(spec.kvCacheMib)],
    cwd,
    env: {},
    ...(hooks === undefined ? {} : { hooks: hooksToMessage(hooks) }),
  });
  try {
    const first = await waitForCorrectAnswer({
      url,
      check: (body) => checkFreshAnswer(body, spec.model),
      launchedAt,
      timeoutMs: 600_000,
      signal,
    });
    const last = checkContinuingAnswer(await askModel(url, 60_000, signal), first.answer);
    if (!last.ok) throw new Error(`wrong answer: ${last.problems.join('; ')}`);
    // Dirty pages of the previous run are written back first: each checkpoint pays for its own writes.
    await promisify(execFile)('sync');
    const [checkpoint, checkpointMs] = await timed(() =>
      agent.client.checkpoint({ target: { pod: spec.name }, checkpointId: spec.name }),
    );
    await stopWorkload(agent, spec.name);
    const restoreStarted = performance.now();
    const [restored, restoreMs] = await timed(() => agent.client.restore({ checkpointId: spec.name }));
    const answered = await waitForCorrectAnswer({
      url,
      check: (body) => checkContinuingAnswer(body, last.answer),
      launchedAt: restoreStarted,
      timeoutMs: 300_000,
      signal,
    });
    return {
      sizeBytes: Number(checkpoint.sizeBytes),
      checkpointMs,
      restoreMs,
      firstAnswerMs: answered.ms,
      checkpointPhases: checkpoint.durationsMs,
      restorePhases: restored.durationsMs,
    };
  } finally {
    await stopWorkload(agent, spec.name).catch(() => {});
    await deleteCheckpoint(agent, spec.name).catch(() => {});
  }
}
