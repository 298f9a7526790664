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
/** CRIU's page images (the workload's memory), which it writes front to back: most of a checkpoint. */
export const PAGE_IMAGES = /^pages-\d+\.img$/;

/** Whether a manifest path (relative to the checkpoint) is one of CRIU's page images. */
export function isPageImage(path: string): boolean {
  const [dir, name, ...rest] = path.split('/');
  return dir === IMAGES_DIR && name !== undefined && rest.length === 0 && PAGE_IMAGES.test(name);
}

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
