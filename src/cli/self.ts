/**
 * How snapback starts another snapback process (the demo's agent and functions; the tests' agents): the
 * running Node with this same build's entry — bin/snapback.ts through tsx when this code runs from source
 * (the tests, `node --import tsx`), dist/bin/snapback.js when it is compiled — and, as bin/snapback does,
 * the project's tools first on PATH. A child so runs exactly the code its parent runs, never a stale build.
 */
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, SnapbackError } from '../errors.js';

/** The project's root: the nearest folder above this module whose package.json is snapback's. */
export function projectRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'snapback'
    )
      return dir;
    if (dirname(dir) === dir)
      throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, 'cannot find the project root');
  }
}

export interface SnapbackCommand {
  file: string;
  args: string[];
  env: Record<string, string | undefined>;
}

/** The command line of `snapback ARGS…`, with `env` (default: this process's) and the tools on PATH. */
export function snapbackCommand(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): SnapbackCommand {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = fileURLToPath(new URL(`../../bin/snapback.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  const root = projectRoot();
  // As bin/snapback: criu 4.2, the io_uring-blocking launcher and the CUDA helper of `make setup` first.
  const path = [join(root, '.tools/bin'), join(root, '.tools/criu/bin'), env['PATH']].filter(Boolean);
  return {
    file: process.execPath,
    args: [
      ...(fromSource ? ['--import', import.meta.resolve('tsx')] : ['--enable-source-maps']),
      entry,
      ...args,
    ],
    env: { ...env, PATH: path.join(delimiter) },
  };
}
