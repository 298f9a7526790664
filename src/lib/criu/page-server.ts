/**
 * The page-server side of CRIU's post-copy protocol, spoken to `criu lazy-pages --page-server`: the daemon
 * asks for pages, snapback answers from whatever holds them (a local checkpoint verified chunk by chunk,
 * later a bucket). CRIU itself serves this protocol only from a frozen process (`criu dump --lazy-pages`),
 * never from images, so snapback speaks it.
 *
 * The protocol (CRIU's criu/page-xfer.c, the same in 3.x and 4.x): every message is a `page_server_iov`
 * — u32 cmd (flags in its upper 16 bits), 4 bytes of padding, u64 nr_pages, u64 vaddr, u64 dst_id, little
 * endian, 32 bytes. The daemon sends PS_IOV_GET(nr_pages, vaddr, dst_id = the process's pid in the dump);
 * the server answers, in the order asked, a PS_IOV_ADD_F header naming how many pages follow (at least one,
 * perhaps fewer than asked) and then their bytes. The daemon ends with PS_IOV_CLOSE (or FORCE_CLOSE, on an
 * inherited socket), answered with an int32 status of 0.
 */
import type { Duplex } from 'node:stream';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { PAGE_SIZE } from './images.js';

const HEADER_SIZE = 32;
const PS_IOV_ADD_F = 6;
const PS_IOV_GET = 7;
const PS_IOV_CLOSE = 0x1023;
const PS_IOV_FORCE_CLOSE = 0x1024;
const PS_CMD_MASK = 0xffff;
const PE_PRESENT = 1 << 2;

/** Pages found, ready to be copied into the answer. */
export interface PageSpan {
  /** How many (at least one; no more than asked). */
  pages: number;
  /** Copies them into `target` from `at` (synchronously: from the page cache, a copy costs less than a hop). */
  copyTo(target: Buffer, at: number): void;
}

/** Where the pages come from. */
export interface PageSource {
  /**
   * `pages` pages of process `pid` from `vaddr` on — or fewer (at least one). Rejects when they cannot be
   * had, or do not match what was checkpointed.
   */
  find(pid: number, vaddr: number, pages: number): Promise<PageSpan>;
}

/**
 * Serves one daemon's connection until it says it is done (resolves) or something fails (rejects).
 * Requests are read as they come and answered in order; their reads run side by side.
 *
 * When the source fails (a bad chunk), nothing more is answered but the connection is left open for the
 * caller to end: the daemon waits, and so do the tasks faulting on those pages. A daemon that hung up while
 * CRIU was still restoring would leave that restore waiting for ever; the caller kills the tree first.
 * A broken protocol or a daemon that hangs up ends the connection at once.
 */
export function servePages(connection: Duplex, source: PageSource): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let pending: Buffer = Buffer.alloc(0);
    let scratch: Buffer = Buffer.alloc(0);
    let answered: Promise<void> = Promise.resolve();
    let closing = false;
    let settled = false;
    const fail = (err: unknown, hangUp = true) => {
      if (settled) return;
      settled = true;
      if (hangUp) connection.destroy();
      reject(err);
    };
    const send = (bytes: Buffer) =>
      new Promise<void>((done, failed) => {
        connection.write(bytes, (err) => (err ? failed(err) : done()));
      });
    const answer = (request: Request) => {
      const pages = source.find(request.pid, request.vaddr, request.pages).then((span) => {
        if (!Number.isInteger(span.pages) || span.pages < 1 || span.pages > request.pages) {
          throw new SnapbackError(
            ErrorCode.INTERNAL,
            `the page source gave ${span.pages} pages for ${request.pages} at ${hex(request.vaddr)} of process ${request.pid}`,
          );
        }
        return span;
      });
      pages.catch((err: unknown) => fail(err, false));
      answered = answered.then(async () => {
        const span = await pages.catch(() => undefined);
        if (span === undefined || settled) return;
        // Header and pages in one buffer, written once. Answers go one at a time and a write's callback
        // comes once the kernel has its bytes, so one buffer serves them all: megabytes an answer would
        // otherwise be garbage to collect, and collecting it stalled the answers (a quarter of the time).
        const size = HEADER_SIZE + span.pages * PAGE_SIZE;
        if (scratch.length < size) scratch = Buffer.allocUnsafe(size);
        const message = scratch.subarray(0, size);
        writeHeader(message, PS_IOV_ADD_F | (PE_PRESENT << 16), span.pages, request.vaddr, request.pid);
        span.copyTo(message, HEADER_SIZE);
        await send(message);
      });
      answered.catch(fail);
    };
    connection.on('data', (data: Buffer) => {
      if (settled) return;
      pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
      while (pending.length >= HEADER_SIZE && !closing) {
        const message = pending.subarray(0, HEADER_SIZE);
        pending = pending.subarray(HEADER_SIZE);
        const cmd = message.readUInt32LE(0) & PS_CMD_MASK;
        if (cmd === PS_IOV_GET) {
          answer(parseGet(message));
        } else if (cmd === PS_IOV_CLOSE || cmd === PS_IOV_FORCE_CLOSE) {
          closing = true;
          answered = answered.then(async () => {
            const status = Buffer.alloc(4); // 0: all is well
            await send(status);
            settled = true;
            connection.end();
            resolve();
          });
          answered.catch(fail);
        } else {
          fail(
            new SnapbackError(
              ErrorCode.INTERNAL,
              `criu lazy-pages sent page-server command ${cmd}, which a lazy restore never sends`,
            ),
          );
        }
      }
    });
    connection.on('error', fail);
    connection.on('close', () => {
      fail(new SnapbackError(ErrorCode.INTERNAL, 'criu lazy-pages hung up before it had every page'));
    });
  });
}

interface Request {
  pid: number;
  vaddr: number;
  pages: number;
}

function parseGet(message: Buffer): Request {
  return {
    pages: Number(message.readBigUInt64LE(8)),
    vaddr: Number(message.readBigUInt64LE(16)),
    pid: Number(message.readBigUInt64LE(24)),
  };
}

function writeHeader(bytes: Buffer, cmd: number, pages: number, vaddr: number, pid: number): void {
  bytes.fill(0, 0, HEADER_SIZE);
  bytes.writeUInt32LE(cmd >>> 0, 0);
  bytes.writeBigUInt64LE(BigInt(pages), 8);
  bytes.writeBigUInt64LE(BigInt(vaddr), 16);
  bytes.writeBigUInt64LE(BigInt(pid), 24);
}

export function hex(address: number): string {
  return `0x${address.toString(16)}`;
}
