/**
 * CRIU's log of a failed restore, said in words: a bind that failed is named by the address its task set out
 * to restore, though the tasks of a tree restore at once and their lines interleave.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SnapbackError } from '../../../src/errors.js';
import { explainRestoreFailure } from '../../../src/lib/criu/restore-failures.js';

const listening = (task: number, port: number, address: string) =>
  `(00.031188)      ${task}: inet: \tRestore: family AF_INET    type SOCK_STREAM    proto IPPROTO_TCP      port ${port} state TCP_LISTEN       src_addr ${address}`;

describe('criu restore failures in words', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapback-criu-log-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("names the address whose bind failed, by the failing task's own lines", async () => {
    const log = join(dir, 'restore.log');
    await writeFile(
      log,
      [
        listening(2, 18123, '127.0.0.1'),
        listening(1, 9999, '10.0.0.1'),
        '(00.031200)      1: Opening 0x000000004a4000-0x000000004a8000 0x000000000a4000 (41) vma',
        "(00.076248)      2: Error (criu/sk-inet.c:1059): inet: Can't bind inet socket (id 23): Address already in use",
        '(00.080226) Error (criu/cr-restore.c:2331): Restoring FAILED.',
      ].join('\n'),
    );
    const explained = await explainRestoreFailure(new Error('criu exited with 1'), log);
    assert.ok(explained instanceof SnapbackError);
    assert.equal(explained.code, 'FAILED_PRECONDITION');
    assert.equal(
      explained.message,
      'criu restore failed: 127.0.0.1:18123, where the workload listened, is taken where it is restored (another process listens there)',
    );
  });
});
