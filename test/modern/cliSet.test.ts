import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { bpftoolJson } from '../support/bpftool.js';
import { repoRoot } from '../support/fixtures.js';
import { requireKernel } from '../support/kernel.js';

/** `load-kern-object FILE --set NAME=VALUE` as a user runs it. */

const CLI = join(repoRoot, 'dist', 'loader', 'cli', 'bin.cjs');
const GLOBALS = join(repoRoot, 'fixtures', 'modern', 'globals.bpf.o');

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('CLI: --set on load', function () {
  this.timeout(60000);

  it('an unknown variable or a value its type cannot take is bad usage (exit 2), naming it', function () {
    const unknown = run(GLOBALS, '--set', 'nope=1');
    expect(unknown.status).to.equal(2);
    expect(unknown.stderr).to.match(/--set nope: no variable of that name \(variables: hits, last, calls, sign/);
    const bad = run(GLOBALS, '--set', 'step=many');
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.match(/--set step=many: not an integer/);
  });

  it('values land in .rodata before it is frozen (pinned and read back with bpftool)', function () {
    requireKernel(this);
    const dir = freshPinRoot('modern-cli-set');
    try {
      const result = run(GLOBALS, '--set', 'step=7', '--set', 'greeting=world', '--set', 'enabled=false', '--pin', dir);
      expect(result.status, result.stderr).to.equal(0);
      const dump = bpftoolJson<{ formatted?: { value?: { '.rodata'?: { step?: number; greeting?: string; enabled?: boolean }[] } } }[]>(
        'map', 'dump', 'pinned', join(dir, 'maps', 'globals_rodata'),
      );
      const text = JSON.stringify(dump);
      expect(text).to.match(/"step":7/);
      expect(text).to.match(/"enabled":false/);
    } finally {
      removePinRoot(dir);
    }
  });
});
