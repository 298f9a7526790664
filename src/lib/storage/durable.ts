/**
 * Writes that survive a crash: data fsynced before the rename that publishes it, and the directory
 * fsynced after, so a reader sees either the old state or the complete new one.
 */

import { randomUUID } from 'node:crypto';
import { open, readdir, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync every file and directory below `dir` (all at once: the disk orders them), then `dir` itself. */
export async function fsyncTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  await Promise.all(
    entries.map((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return fsyncTree(path);
      return entry.isFile() ? fsyncPath(path) : undefined;
    }),
  );
  await fsyncPath(dir);
}

export async function writeFileDurably(path: string, data: string): Promise<void> {
  const temp = `${path}.${randomUUID()}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  await fsyncPath(dirname(path));
}
