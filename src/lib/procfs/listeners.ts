/**
 * Listening TCP sockets, from /proc/PID/net/tcp and tcp6 (the sockets of PID's network namespace) and the
 * `socket:[INODE]` links of /proc/PID/fd (which process holds which). Workloads of the process runtime share
 * the host's network namespace: a restored copy listens where the original listens, which CRIU refuses
 * (EADDRINUSE) or, for a program that set SO_REUSEPORT, silently shares.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

export interface TcpListener {
  /** `127.0.0.1`, `0.0.0.0`, `::1`, `::`. */
  address: string;
  port: number;
}

interface ListenerEntry extends TcpListener {
  inode: number;
}

/** TCP state LISTEN in /proc/net/tcp's `st` column. */
const LISTEN = '0A';

/** Every listening TCP socket of the network namespace `pid` is in (`self`: this process's). */
async function listenersOfNamespace(pid: number | 'self'): Promise<ListenerEntry[]> {
  const entries: ListenerEntry[] = [];
  for (const file of ['tcp', 'tcp6']) {
    const text = await readFile(`/proc/${pid}/net/${file}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== LISTEN) continue;
      const [hexAddress, hexPort] = fields[1]!.split(':') as [string, string];
      entries.push({
        address: addressOf(hexAddress),
        port: Number.parseInt(hexPort, 16),
        inode: Number(fields[9]),
      });
    }
  }
  return entries;
}

/**
 * /proc prints each 32-bit word of the address in host byte order (little-endian on the machines snapback
 * runs on): `0100007F` is 127.0.0.1.
 */
function addressOf(hex: string): string {
  const bytes = (hex.match(/.{8}/g) ?? []).flatMap((word) =>
    (word.match(/../g) ?? []).reverse().map((b) => Number.parseInt(b, 16)),
  );
  if (bytes.length === 4) return bytes.join('.');
  const groups = [];
  for (let i = 0; i < bytes.length; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // The URL parser writes an IPv6 address in its shortest form (`::1`).
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** The socket inodes `pids` hold open. */
async function socketInodesOf(pids: readonly number[]): Promise<Map<number, number>> {
  const holders = new Map<number, number>();
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      if (inode !== undefined) holders.set(Number(inode), pid);
    }
  }
  return holders;
}

/** The TCP addresses the process tree `pids` listens on (its sockets only, not its namespace's others). */
export async function listenersOf(pids: readonly number[]): Promise<TcpListener[]> {
  if (pids.length === 0) return [];
  const held = await socketInodesOf(pids);
  const seen = new Set<string>();
  const out: TcpListener[] = [];
  for (const { address, port, inode } of await listenersOfNamespace(pids[0]!)) {
    const key = `${address}|${port}`;
    if (!held.has(inode) || seen.has(key)) continue;
    seen.add(key);
    out.push({ address, port });
  }
  return out;
}

/** Whether two listeners want the same port: the same address, or either on every address. */
function overlaps(a: TcpListener, b: TcpListener): boolean {
  const any = (l: TcpListener) => l.address === '0.0.0.0' || l.address === '::';
  return a.port === b.port && (a.address === b.address || any(a) || any(b));
}

interface PortClash {
  wanted: TcpListener;
  /** The pid holding the socket in the way, when /proc shows it. */
  holder: number | undefined;
}

/** Which of `wanted` something in this process's network namespace already listens on, and who. */
export async function portClashes(wanted: readonly TcpListener[]): Promise<PortClash[]> {
  if (wanted.length === 0) return [];
  const now = await listenersOfNamespace('self');
  const clashes = wanted.flatMap((w) => {
    const inTheWay = now.find((l) => overlaps(w, l));
    return inTheWay === undefined ? [] : [{ wanted: w, inode: inTheWay.inode }];
  });
  if (clashes.length === 0) return [];
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const holders = await socketInodesOf(pids);
  return clashes.map((c) => ({ wanted: c.wanted, holder: holders.get(c.inode) }));
}

/** `127.0.0.1:8080`, `[::1]:8080`. */
export function formatListener(l: TcpListener): string {
  return l.address.includes(':') ? `[${l.address}]:${l.port}` : `${l.address}:${l.port}`;
}
