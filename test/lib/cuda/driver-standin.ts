/**
 * snapback-cuda-helper and the libcuda stand-in (test/fixtures/libcuda-standin.c), compiled by the tests
 * themselves into a temporary folder, once per test process: the helper as the Makefile builds it, the
 * stand-in once with the checkpoint API and once without it (a driver older than 570).
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface DriverStandInBuild {
  /** The helper, built from native/cuda-helper.c. */
  helper: string;
  /** libcuda.so.1 with the checkpoint API. */
  library: string;
  /** libcuda.so.1 without it. */
  oldLibrary: string;
}

let built: Promise<DriverStandInBuild> | undefined;

/** Builds (once per process) and returns the paths; needs a C compiler (`cc`). */
export function buildDriverStandIn(): Promise<DriverStandInBuild> {
  built ??= build();
  return built;
}

async function build(): Promise<DriverStandInBuild> {
  const dir = await mkdtemp(join(tmpdir(), 'snapback-cuda-driver-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const cc = (args: string[]) => promisify(execFile)('cc', args, { cwd: root });
  const out = {
    helper: join(dir, 'snapback-cuda-helper'),
    library: join(dir, 'libcuda.so.1'),
    oldLibrary: join(dir, 'old', 'libcuda.so.1'),
  };
  await mkdir(dirname(out.oldLibrary));
  const standIn = join(root, 'test/fixtures/libcuda-standin.c');
  const warnings = ['-Wall', '-Wextra', '-Werror'];
  await Promise.all([
    cc(['-O2', ...warnings, '-pthread', '-o', out.helper, join(root, 'native/cuda-helper.c'), '-ldl']),
    cc(['-shared', '-fPIC', ...warnings, '-pthread', '-o', out.library, standIn]),
    cc([
      '-shared',
      '-fPIC',
      ...warnings,
      '-pthread',
      '-DSTANDIN_NO_CHECKPOINT_API',
      '-o',
      out.oldLibrary,
      standIn,
    ]),
  ]);
  return out;
}

/** One entry-point call the libcuda stand-in recorded: which process called what, with what. */
export interface DriverCall {
  caller: number;
  fn: string;
  pid?: number;
  details?: string;
}

/** The calls recorded in a stand-in state folder, in order. */
export async function driverCalls(stateDir: string): Promise<DriverCall[]> {
  const text = await readFile(join(stateDir, 'calls'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [caller, fn, pid, ...details] = line.split(' ');
      return {
        caller: Number(caller),
        fn: fn!,
        ...(pid === undefined ? {} : { pid: Number(pid) }),
        ...(details.length === 0 ? {} : { details: details.join(' ') }),
      };
    });
}
