/**
 * CRIU's parasite, when the dumped task's /proc belongs to another PID namespace, mounts its own proc on
 * a fixed-name folder it creates in the task's working directory. Two dumps of tasks sharing a working
 * directory then collide (`Can't create a directory (-17)`, EEXIST) and both fail. Dumps are therefore
 * serialised per working directory, process-wide; dumps of tasks in different folders run in parallel.
 */
const held = new Map<string, Promise<void>>();

export async function withDirectoryLocks<T>(dirs: readonly string[], work: () => Promise<T>): Promise<T> {
  // Sorted, so that two callers wanting overlapping sets never wait on each other in a cycle.
  const keys = [...new Set(dirs)].sort();
  const releases: (() => void)[] = [];
  try {
    for (const key of keys) {
      for (;;) {
        const current = held.get(key);
        if (current === undefined) break;
        await current;
      }
      let release!: () => void;
      held.set(
        key,
        new Promise<void>((resolve) => {
          release = () => {
            held.delete(key);
            resolve();
          };
        }),
      );
      releases.push(release);
    }
    return await work();
  } finally {
    for (const release of releases.reverse()) release();
  }
}
