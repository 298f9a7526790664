/** Phase 2, configure: CRIU's dump options from the inspection and the agent's settings. */

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { DumpOptions } from '../lib/criu/index.js';
import type { InspectedTarget } from './inspect.js';

export interface DumpPlan {
  inspection: InspectedTarget;
  stagingDir: string;
  imagesDir: string;
  dump: DumpOptions;
}

/** The staged checkpoint's layout (docs/architecture.md, "Storage"). */
export const IMAGES_DIR = 'criu';

export async function configureDump(inspection: InspectedTarget, stagingDir: string): Promise<DumpPlan> {
  const imagesDir = join(stagingDir, IMAGES_DIR);
  await mkdir(imagesDir, { mode: 0o700 });
  return {
    inspection,
    stagingDir,
    imagesDir,
    dump: {
      pid: inspection.rootPid,
      imagesDir,
      logFile: join(imagesDir, 'dump.log'),
      // Always dump leaving the tree running: a stop is done only once the checkpoint is promoted, so a
      // failure after the dump can never lose the workload.
      leaveRunning: true,
      externals: inspection.externals,
      extraArgs: inspection.dumpArgs,
    },
  };
}
