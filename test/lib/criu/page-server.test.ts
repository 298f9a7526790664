/**
 * The page-server side of CRIU's post-copy protocol, against a client that speaks it as `criu lazy-pages`
 * does (criu/page-xfer.c): 32-byte requests, pipelined; answers in order, a header then the pages; a close
 * answered with a zero status. The real daemon is exercised by test/agent/lazy.test.ts.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PAGE_SIZE, type PageSource, type PageSpan, servePages } from '../../../src/lib/criu/index.js';
import { waitFor } from '../../helpers/proc.js';

const GET = 7;
const ADD_F = 6;
const CLOSE = 0x1023;
const FORCE_CLOSE = 0x1024;

function message(cmd: number, pages: number, vaddr: number, id: number): Buffer {
  const bytes = Buffer.alloc(32);
  bytes.writeUInt32LE(cmd, 0);
  bytes.writeBigUInt64LE(BigInt(pages), 8);
  bytes.writeBigUInt64LE(BigInt(vaddr), 16);
  bytes.writeBigUInt64LE(BigInt(id), 24);
  return bytes;
}

/** A page's bytes: its address and process, so that a misplaced page shows. */
function pageOf(pid: number, vaddr: number): Buffer {
  const page = Buffer.alloc(PAGE_SIZE);
  page.writeUInt32LE(pid, 0);
  page.writeBigUInt64LE(BigInt(vaddr), 8);
  return page;
}

/** A span over `bytes` (a whole number of pages, or not: the server must refuse that). */
function spanOf(bytes: Buffer): PageSpan {
  return { pages: bytes.length / PAGE_SIZE, copyTo: (target, at) => void bytes.copy(target, at) };
}

/** Reads exactly `n` bytes from the client's side. */
function reader(socket: Socket): (n: number) => Promise<Buffer> {
  let buffered: Buffer = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  socket.on('data', (data: Buffer) => {
    buffered = Buffer.concat([buffered, data]);
    wake?.();
  });
  socket.on('end', () => wake?.());
  return async (n) => {
    while (buffered.length < n) {
      if (socket.readableEnded) throw new Error(`the server closed with ${buffered.length} of ${n} bytes`);
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    const out = buffered.subarray(0, n);
    buffered = buffered.subarray(n);
    return out;
  };
}

describe('page server (CRIU post-copy protocol)', () => {
  let dir: string;
  let count = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapback-page-server-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** A connected pair: the server's end served from `source`, the client's end to speak as the daemon. */
  async function connection(source: PageSource) {
    const path = join(dir, `s${count++}.socket`);
    const listener = createServer();
    listener.listen(path);
    await once(listener, 'listening');
    const accepted = once(listener, 'connection');
    const client = connect(path);
    const [server] = (await accepted) as [Socket];
    listener.close();
    const served = servePages(server, source);
    served.catch(() => {});
    return { client, served, read: reader(client) };
  }

  it('answers pipelined requests in order, each with its header then its pages, and a close with 0', async () => {
    const asked: string[] = [];
    const { client, served, read } = await connection({
      async find(pid, vaddr, pages) {
        asked.push(`${pid}@${vaddr.toString(16)}×${pages}`);
        // The first request's pages take longest: answers must still come in the order asked.
        if (asked.length === 1) await new Promise((resolve) => setImmediate(resolve));
        return spanOf(
          Buffer.concat(Array.from({ length: pages }, (_, i) => pageOf(pid, vaddr + i * PAGE_SIZE))),
        );
      },
    });
    const requests = [
      [3, 0x7f0000000000, 12],
      [1, 0x400000, 1],
      [12, 0x7ffd5e8f7000, 5],
    ] as const;
    // One write holding all three, the last split across two writes: requests are framed by size alone.
    const bytes = Buffer.concat(requests.map(([pages, vaddr, pid]) => message(GET, pages, vaddr, pid)));
    client.write(bytes.subarray(0, 70));
    client.write(bytes.subarray(70));
    for (const [pages, vaddr, pid] of requests) {
      const header = await read(32);
      assert.equal(header.readUInt32LE(0) & 0xffff, ADD_F);
      assert.equal(Number(header.readBigUInt64LE(8)), pages);
      assert.equal(Number(header.readBigUInt64LE(16)), vaddr);
      assert.equal(Number(header.readBigUInt64LE(24)), pid);
      const data = await read(pages * PAGE_SIZE);
      for (let i = 0; i < pages; i++) {
        const page = data.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
        assert.ok(page.equals(pageOf(pid, vaddr + i * PAGE_SIZE)), `page ${i} of ${vaddr.toString(16)}`);
      }
    }
    client.write(message(FORCE_CLOSE, 0, 0, 0));
    assert.equal((await read(4)).readInt32LE(0), 0);
    await served;
    assert.equal(asked.length, 3);
  });

  it('says how many pages follow when the source gives fewer than asked', async () => {
    const { client, served, read } = await connection({
      find: async (pid, vaddr) => spanOf(pageOf(pid, vaddr)),
    });
    client.write(message(GET, 16, 0x1000, 9));
    const header = await read(32);
    assert.equal(Number(header.readBigUInt64LE(8)), 1);
    assert.ok((await read(PAGE_SIZE)).equals(pageOf(9, 0x1000)));
    client.write(message(CLOSE, 0, 0, 0));
    assert.equal((await read(4)).readInt32LE(0), 0);
    await served;
  });

  it('fails when the source cannot give the pages (a bad chunk), answering nothing more, the line left open', async () => {
    let reads = 0;
    const { client, served } = await connection({
      find: async (pid, vaddr) => {
        reads++;
        if (vaddr === 0x2000) throw new Error('chunk 3 does not match the manifest');
        return spanOf(pageOf(pid, vaddr));
      },
    });
    let received = 0;
    client.on('data', (data: Buffer) => {
      received += data.length;
    });
    // The bad request is answered with nothing, and neither is the one after it, good as it is.
    client.write(Buffer.concat([message(GET, 1, 0x2000, 9), message(GET, 1, 0x3000, 9)]));
    await assert.rejects(served, /chunk 3 does not match the manifest/);
    await waitFor('both requests to be read', () => reads === 2);
    // Left open for the caller to end (a daemon that hung up mid-restore would leave CRIU waiting).
    assert.equal(client.destroyed, false);
    assert.equal(received, 0);
    client.destroy();
  });

  it('fails on a source that gives a part of a page, no page, or more than was asked', async () => {
    for (const bytes of [PAGE_SIZE - 1, 0, 3 * PAGE_SIZE]) {
      const { client, served } = await connection({ find: async () => spanOf(Buffer.alloc(bytes)) });
      client.write(message(GET, 2, 0x1000, 9));
      await assert.rejects(served, /the page source gave [\d.]+ pages for 2 at 0x1000 of process 9/);
      client.destroy();
    }
  });

  it('fails on a command a lazy restore never sends, and on a daemon that hangs up early', async () => {
    const source: PageSource = { find: async (pid, vaddr) => spanOf(pageOf(pid, vaddr)) };
    const odd = await connection(source);
    odd.client.write(message(1, 1, 0x1000, 9)); // PS_IOV_ADD: a dump's, not a lazy restore's
    await assert.rejects(odd.served, /page-server command 1/);
    const early = await connection(source);
    early.client.end(message(GET, 1, 0x1000, 9).subarray(0, 20));
    await assert.rejects(early.served, /hung up before it had every page/);
  });
});
