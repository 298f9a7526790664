/**
 * The moment after CRIU has dumped a tree and before it lets it run again (go-criu's PostDump notify):
 * CRIU runs its action script at `post-dump` with the tree still frozen, and waits for it. The script
 * written here tells the agent it is there (a file appears) and waits for the agent's answer (another
 * file), so that the agent captures the container's files while nothing can change them: memory and
 * files are one moment. The wait is bounded: an agent that died must not keep the workload frozen (CRIU
 * then thaws it and the dump fails).
 */
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 10;

/** The script CRIU runs (`--action-script`): only `post-dump` does anything. */
const SCRIPT = `#!/bin/sh
# snapback: CRIU's action script. At post-dump the dumped tree is still frozen; the agent captures the
# container's files and answers "ok" in $SNAPBACK_FROZEN_DIR/thawable. Bounded, so a gone agent cannot
# keep the workload frozen: no answer in time fails the dump, and CRIU lets the tree run again.
[ "$CRTOOLS_SCRIPT_ACTION" = post-dump ] || exit 0
d=$SNAPBACK_FROZEN_DIR
: > "$d/frozen"
i=0
while [ ! -e "$d/thawable" ]; do
  i=$((i + 1))
  [ "$i" -gt "$SNAPBACK_FROZEN_POLLS" ] && exit 1
  sleep 0.01
done
[ "$(cat "$d/thawable")" = ok ]
`;

export interface FrozenWindow {
  /** For CRIU's dump options. */
  actionScript: string;
  env: Record<string, string>;
  /** Resolves true once CRIU is at post-dump (the tree frozen), false if `dumpEnded` settles first. */
  entered(dumpEnded: Promise<unknown>): Promise<boolean>;
  /** Lets CRIU go on: `ok` false fails the dump (CRIU thaws the tree and reports the failure). */
  release(ok: boolean): Promise<void>;
  close(): Promise<void>;
}

/** Opens a window in `dir` (created; removed by `close`); CRIU waits in it at most `timeoutMs`. */
export async function openFrozenWindow(dir: string, timeoutMs: number): Promise<FrozenWindow> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const script = join(dir, 'post-dump.sh');
  await writeFile(script, SCRIPT, { mode: 0o700 });
  return {
    actionScript: script,
    env: {
      SNAPBACK_FROZEN_DIR: dir,
      SNAPBACK_FROZEN_POLLS: String(Math.ceil(timeoutMs / POLL_MS)),
    },
    async entered(dumpEnded) {
      let ended = false;
      void dumpEnded.then(
        () => {
          ended = true;
        },
        () => {
          ended = true;
        },
      );
      for (;;) {
        if (
          await stat(join(dir, 'frozen')).then(
            () => true,
            () => false,
          )
        )
          return true;
        if (ended) return false;
        await sleep(POLL_MS);
      }
    },
    async release(ok) {
      const answer = join(dir, 'thawable');
      // Written whole before it appears: the script reads it as soon as the name exists.
      await writeFile(`${answer}.tmp`, ok ? 'ok\n' : 'fail\n');
      await rename(`${answer}.tmp`, answer);
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
