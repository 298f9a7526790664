/**
 * Running this node's CRIU inside a container's namespaces with nothing of it in the container. The agent
 * opens its own root folder and hands it to the child as a file descriptor; inside the container's mount
 * namespace `/proc/self/fd/N/<path>` still leads to the agent's file at <path> (a descriptor keeps the
 * mount it was opened on). CRIU is started through its ELF interpreter with the library path given the
 * same way, since its own interpreter and RPATH name the agent's paths, which mean nothing in there; its
 * images and work folders are reached the same way.
 */
import { open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ErrorCode, SnapbackError } from '../../errors.js';

/** Where inside the target the child finds the agent's root: the first extra descriptor (fd 3). */
export const HOST_ROOT_FD = 3;
const HOST_ROOT = `/proc/self/fd/${HOST_ROOT_FD}`;

/** Where CRIU runs: here (no prefix), or behind a prefix that enters another process's namespaces. */
export interface CriuPlacement {
  /** A command prefix (e.g. `nsenter -t PID -m -u -i -n -p --`); empty runs CRIU here. */
  via: readonly string[];
  /**
   * True when `via` enters another mount namespace: CRIU and every path handed to it are then reached
   * through the agent's root passed as fd 3, and `extraFds` follow it from fd 4 on.
   */
  foreignMounts: boolean;
  /** Descriptors for the child, from fd 3 (fd 4 when `foreignMounts`) on, e.g. a network namespace. */
  extraFds?: readonly number[];
}

/** The first child fd `extraFds[0]` lands on. */
export function firstExtraFd(placement: CriuPlacement): number {
  return placement.foreignMounts ? HOST_ROOT_FD + 1 : 3;
}

/** A path of the agent's as the child sees it. */
export function pathFor(placement: CriuPlacement, path: string): string {
  return placement.foreignMounts ? `${HOST_ROOT}${path}` : path;
}

/**
 * The command line that runs `binary args…` where `placement` says, and the descriptors to hand it (the
 * caller closes them once the run is over).
 */
export async function placedCommand(
  binary: string,
  args: readonly string[],
  placement: CriuPlacement,
): Promise<{ file: string; args: string[]; fds: number[]; close(): Promise<void> }> {
  if (!placement.foreignMounts) {
    const [file, ...rest] = [...placement.via, binary, ...args];
    return { file: file!, args: rest, fds: [...(placement.extraFds ?? [])], close: async () => {} };
  }
  const interpreter = await elfInterpreter(binary);
  const root = await open('/', 'r');
  // The container's own files must never be loaded by a program running as root on its behalf: the library
  // path names only the agent's folders (its interpreter's, and the multiarch ones of a distribution's
  // build), the container's ld.so.cache is not read, and CRIU's own RPATH is $ORIGIN-relative
  // (scripts/setup-criu.sh). Its /etc/ld.so.preload, which ld.so reads whatever it is told, is refused by
  // the runtime before CRIU runs.
  const libraries = [dirname(interpreter ?? '/'), ...MULTIARCH_LIBRARIES].map((d) => pathFor(placement, d));
  const loader =
    interpreter === undefined
      ? []
      : [pathFor(placement, interpreter), '--inhibit-cache', '--library-path', libraries.join(':')];
  const command = [...placement.via, ...loader, pathFor(placement, binary), ...args];
  return {
    file: command[0]!,
    args: command.slice(1),
    fds: [root.fd, ...(placement.extraFds ?? [])],
    close: () => root.close(),
  };
}

/** Where Debian-family builds keep their libraries, beside the interpreter's own folder. */
const MULTIARCH_LIBRARIES = [
  '/lib/x86_64-linux-gnu',
  '/usr/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
];

const PT_INTERP = 3;

/**
 * The ELF program interpreter (PT_INTERP) of a 64-bit little-endian executable, as an absolute path;
 * undefined for a static one, which needs none.
 */
export async function elfInterpreter(binary: string): Promise<string | undefined> {
  const elf = await readFile(binary).catch((err: unknown) => {
    throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, `cannot read ${binary}`, { cause: err });
  });
  const bad = (why: string) =>
    new SnapbackError(ErrorCode.FAILED_PRECONDITION, `${binary} cannot run inside a container: ${why}`);
  // ELF header (System V ABI): magic, class 2 (64-bit), data 1 (little-endian); e_phoff at 0x20,
  // e_phentsize at 0x36, e_phnum at 0x38; each program header's p_type at 0, p_offset at 8, p_filesz at 32.
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1)
    throw bad('it is not a 64-bit little-endian ELF executable');
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 40 > elf.length) break;
    if (elf.readUInt32LE(at) !== PT_INTERP) continue;
    const offset = Number(elf.readBigUInt64LE(at + 8));
    const size = Number(elf.readBigUInt64LE(at + 32));
    const path = elf
      .subarray(offset, offset + size)
      .toString('latin1')
      .replace(/\0.*$/s, '');
    if (!path.startsWith('/')) throw bad(`its interpreter ${path} is not an absolute path`);
    return path;
  }
  return undefined;
}
