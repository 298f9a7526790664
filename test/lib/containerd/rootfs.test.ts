/**
 * The rootfs diff on its own: an overlay-like upperdir (files, a whiteout, a mountpoint) captured with
 * real GNU tar and applied to another root; mountinfo parsed and classified.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { classifyMounts, parseMountinfo } from '../../../src/lib/containerd/index.js';
import { applyRootfsDiff, captureRootfsDiff } from '../../../src/lib/containerd/rootfs.js';
import { runTool } from '../../../src/lib/tools/index.js';

describe('containerd rootfs diff', {
  skip: process.getuid?.() === 0 ? false : 'mknod of a whiteout needs root',
}, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapback-rootfs-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('records what the image layers have and the container no longer shows: an opaque folder hides it all', async () => {
    // Image layers: /app holds a, b and sub/c. The container removed /app and made it again with only
    // new (overlayfs marks such a folder opaque with an xattr, which a placeholder's overlay cannot take).
    const lower = join(dir, 'opaque/lower');
    await mkdir(join(lower, 'app/sub'), { recursive: true });
    for (const f of ['app/a', 'app/b', 'app/sub/c', 'keep']) await writeFile(join(lower, f), f);
    const upper = join(dir, 'opaque/upper');
    await mkdir(join(upper, 'app'), { recursive: true });
    await writeFile(join(upper, 'app/new'), 'new');
    const merged = join(dir, 'opaque/merged');
    await mkdir(join(merged, 'app'), { recursive: true });
    await writeFile(join(merged, 'app/new'), 'new');
    await writeFile(join(merged, 'keep'), 'keep');
    const out = join(dir, 'opaque/out');
    await mkdir(out, { recursive: true });
    await captureRootfsDiff({
      upperDir: upper,
      lowerDirs: [lower],
      mergedRoot: merged,
      exclude: [],
      dir: out,
      run: runTool,
    });
    assert.deepEqual(JSON.parse(await readFile(join(out, 'deleted-files.json'), 'utf8')).deleted, [
      '/app/a',
      '/app/b',
      '/app/sub',
    ]);
    const target = join(dir, 'opaque/target');
    await mkdir(join(target, 'app/sub'), { recursive: true });
    for (const f of ['app/a', 'app/b', 'app/sub/c', 'keep']) await writeFile(join(target, f), f);
    await applyRootfsDiff({ checkpointDir: out, root: target, run: runTool });
    assert.deepEqual(
      execFileSync('find', ['.', '-mindepth', '1'], { cwd: target, encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .sort(),
      ['./app', './app/new', './keep'],
    );
  });

  it('captures files, records whiteouts as deletions, leaves out mountpoints and exclusions', async () => {
    const upper = join(dir, 'upper');
    await mkdir(join(upper, 'data'), { recursive: true });
    await mkdir(join(upper, 'mnt/volume'), { recursive: true });
    await mkdir(join(upper, 'cache'), { recursive: true });
    await mkdir(join(upper, 'etc'), { recursive: true });
    await writeFile(join(upper, 'data/kept.txt'), 'kept\n');
    await writeFile(join(upper, 'mnt/volume/not-rootfs'), 'x');
    await writeFile(join(upper, 'cache/big'), 'x');
    execFileSync('mknod', [join(upper, 'etc/gone'), 'c', '0', '0']);
    const out = join(dir, 'out');
    await mkdir(out);
    const bytes = await captureRootfsDiff({
      upperDir: upper,
      exclude: ['/mnt/volume', '/cache'],
      dir: out,
      run: runTool,
    });
    assert.ok(bytes > 0);
    const listing = execFileSync('tar', ['-tf', join(out, 'rootfs-diff.tar')], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    assert.deepEqual(listing.sort(), ['data/', 'data/kept.txt', 'etc/', 'mnt/'].sort());
    assert.deepEqual(JSON.parse(await readFile(join(out, 'deleted-files.json'), 'utf8')).deleted, [
      '/etc/gone',
    ]);

    const target = join(dir, 'target');
    await mkdir(join(target, 'etc'), { recursive: true });
    await writeFile(join(target, 'etc/gone'), 'from the image\n');
    const applied = await applyRootfsDiff({ checkpointDir: out, root: target, run: runTool });
    assert.equal(applied.deleted, 1);
    assert.equal(await readFile(join(target, 'data/kept.txt'), 'utf8'), 'kept\n');
    await assert.rejects(readFile(join(target, 'etc/gone')));
  });

  it('never deletes through a symlink that leads out of the root', async () => {
    const outside = join(dir, 'outside');
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, 'precious'), 'keep');
    const root = join(dir, 'root2');
    await mkdir(root);
    await symlink(outside, join(root, 'link'));
    const ck = join(dir, 'ck2');
    await mkdir(ck);
    await writeFile(
      join(ck, 'deleted-files.json'),
      JSON.stringify({ version: 1, deleted: ['/link/precious', '/../outside/precious'] }),
    );
    await applyRootfsDiff({ checkpointDir: ck, root, run: runTool });
    assert.equal(await readFile(join(outside, 'precious'), 'utf8'), 'keep');
  });
});

describe('container mounts', () => {
  it('classifies mountinfo against the OCI spec', () => {
    const info = parseMountinfo(
      [
        '69 46 0:39 / / rw - overlay overlay rw,upperdir=/u',
        '70 69 0:42 / /proc rw - proc proc rw',
        '72 71 0:44 / /dev/pts rw - devpts devpts rw',
        '76 69 0:47 / /run rw - tmpfs tmpfs rw',
        '77 69 254:0 /srv/my\\040data /data ro - ext4 /dev/vda rw',
      ].join('\n'),
    );
    const kinds = classifyMounts(
      { mounts: [{ destination: '/data', type: 'bind', source: '/srv/my data' }] },
      info,
    ).map((m) => `${m.destination}:${m.kind}`);
    assert.deepEqual(kinds, ['/:rootfs', '/proc:kernel', '/dev/pts:kernel', '/run:tmpfs', '/data:external']);
    assert.equal(info[4]!.root, '/srv/my data');
  });
});
