/**
 * bin/snapback, the launcher `npx snapback` runs: the project's Node when `make setup` installed it, else the
 * machine's only when it is new enough — otherwise, and before a build, one line saying what to do.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/cli/self.js';

const exec = promisify(execFile);

describe('bin/snapback in a checkout without .tools/', () => {
  let root: string;
  /** Runs the launcher of the bare checkout with a `node` that says it is version `major`. */
  const launch = async (major: number) => {
    const fake = join(root, `node-${major}`);
    await mkdir(fake, { recursive: true });
    await writeFile(join(fake, 'node'), `#!/bin/sh\necho ${major}\n`);
    await chmod(join(fake, 'node'), 0o755);
    return exec(join(root, 'bin/snapback'), ['--version'], { env: { PATH: `${fake}:/usr/bin:/bin` } }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
    );
  };
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'snapback-launcher-'));
    await mkdir(join(root, 'bin'));
    await copyFile(join(projectRoot(), 'bin/snapback'), join(root, 'bin/snapback'));
    await chmod(join(root, 'bin/snapback'), 0o755);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('refuses an old Node in one line, naming it and what installs a new one', async () => {
    const { code, stderr } = await launch(20);
    assert.equal(code, 1);
    assert.equal(
      stderr,
      `snapback: needs Node >= 22 (${join(root, 'node-20/node')} is 20); \`make setup\` installs Node 24 under .tools/\n`,
    );
  });

  it('with a new enough Node but nothing built, says how to build', async () => {
    const { code, stderr } = await launch(24);
    assert.equal(code, 1);
    assert.match(stderr, /^snapback: not built yet: `make setup` \(or `npm run build`\) builds it\n$/);
  });
});
