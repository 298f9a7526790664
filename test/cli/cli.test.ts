/** The CLI as a user meets it: its help, its version and its usage errors. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { type CliRun, runCli } from '../helpers/snapback-cli.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

function snapback(...args: string[]): Promise<CliRun> {
  return runCli(args);
}

describe('snapback CLI', () => {
  it('prints its version', async () => {
    const { code, stdout } = await snapback('--version');
    assert.equal(code, 0);
    assert.equal(stdout.trim(), pkg.version);
  });

  it('lists every command of the design in --help', async () => {
    const { code, stdout } = await snapback('--help');
    assert.equal(code, 0);
    for (const name of [
      'agent',
      'function',
      'watch',
      'run',
      'checkpoint',
      'restore',
      'ps',
      'stop',
      'list',
      'inspect',
      'delete',
      'send',
      'demo',
    ]) {
      assert.match(stdout, new RegExp(`^  ${name} `, 'm'), name);
    }
  });

  it("help COMMAND prints that command's help, as COMMAND --help does", async () => {
    const help = await snapback('help', 'checkpoint');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: snapback checkpoint --target NAME/);
    assert.match(help.stdout, /--replace /);
    assert.equal(help.stdout, (await snapback('checkpoint', '--help')).stdout);
    const unknown = await snapback('help', 'frobnicate');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no command "frobnicate"/);
  });

  it('answers an unknown command with exit 2 and the help', async () => {
    const { code, stderr } = await snapback('frobnicate');
    assert.equal(code, 2);
    assert.match(stderr, /unknown command "frobnicate"/);
  });

  it('watch: names every missing or bad setting, with the variable it may come from', async () => {
    const { code, stderr } = await snapback('watch', '--cloud', 'openstack');
    assert.equal(code, 2);
    assert.match(stderr, /--node: is required \(or set NODE_NAME\)/);
    assert.match(stderr, /--sink: is required \(or set K_SINK\)/);
    assert.match(stderr, /--cloud: must be one of auto, aws, gce, azure/);
  });

  it('watch --help lists its options and their variables', async () => {
    const { code, stdout } = await snapback('watch', '--help');
    assert.equal(code, 0);
    for (const text of ['--azure-approve-via', 'SNAPBACK_WATCH_STATE_DIR', 'K_SINK', 'NODE_NAME']) {
      assert.ok(stdout.includes(text), text);
    }
  });
});
