/**
 * The demo's last step: the server is gone again, and the command line that started it, with
 * `--restore latest`, brings it back from its latest checkpoint instead of starting it cold — the
 * one-machine form of a replacement pod restoring itself.
 */
import { formatMs } from '../format.js';
import { checkContinuingAnswer } from './answer.js';
import { type DemoContext, WORKLOAD } from './context.js';
import { waitForCorrectAnswer } from './model-server.js';
import { runSnapback } from './stack.js';
import { type ColdStart, killModelServer } from './steps.js';

export async function restoreByRunLatest(
  context: DemoContext,
  cold: ColdStart,
  runningPid: number,
): Promise<number> {
  const { options, say } = context;
  say(
    '  once more, the way a new node would: the same `snapback run`, told to restore the latest checkpoint\n',
  );
  await killModelServer(context, cold.url, runningPid);
  const args = [
    'run',
    '--agent',
    context.agent,
    '--name',
    WORKLOAD,
    '--cwd',
    cold.cwd,
    '--restore',
    'latest',
  ];
  say(`  $ snapback run ${args.slice(3).join(' ')} -- ${cold.command.join(' ')}\n`);
  const launchedAt = performance.now();
  const printed = await runSnapback([...args, '--', ...cold.command], options.signal);
  const pid = Number(/\(pid (\d+)\)/.exec(printed)?.[1] ?? 0);
  context.pids.add(pid);
  say(`  ${printed.trim()}\n`);
  const restored = await waitForCorrectAnswer({
    url: cold.url,
    check: (body) => checkContinuingAnswer(body, cold.last),
    launchedAt,
    timeoutMs: options.restoreTimeoutMs,
    signal: options.signal,
  });
  say(
    `  first correct answer ${formatMs(restored.ms)} after the command; counter ${restored.answer.counter} continues\n`,
  );
  return pid;
}
