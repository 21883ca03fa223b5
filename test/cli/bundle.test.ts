import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePath, repoRoot } from '../support/fixtures.js';
import { requireKernel } from '../support/kernel.js';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> };
const bundled = join(repoRoot, pkg.bin['load-kern-object']!);
const unbundled = join(repoRoot, 'dist', 'loader', 'cli', 'bin.js');

function run(bin: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 });
}

describe('cli: the bundled executable (package.json bin)', () => {
  before(() => {
    if (!existsSync(bundled)) throw new Error(`${bundled} is missing: build it with npm run build (tsc, then scripts/bundle.mjs)`);
  });

  it('is one file: no relative imports, koffi left to the installed package', () => {
    const text = readFileSync(bundled, 'utf8');
    expect(text.startsWith('#!/usr/bin/env node\n')).to.equal(true);
    expect(text).to.not.match(/from ["']\.\.?\//);
    expect(text).to.match(/\(["']koffi["']\)/);
  });

  it('prints what the unbundled entry prints: --dry-run --json, --help, a usage error', () => {
    for (const args of [['--dry-run', '--json', fixturePath('map_def28_kern.o')], ['--help'], ['dump', '--help'], ['--bogus', 'x.o']]) {
      const a = run(bundled, ...args);
      const b = run(unbundled, ...args);
      expect([a.status, a.stdout, a.stderr], args.join(' ')).to.deep.equal([b.status, b.stdout, b.stderr]);
    }
  });

  it('loads an object with the kernel (koffi found from the bundle)', function () {
    requireKernel(this);
    const loaded = run(bundled, '--json', fixturePath('socket_count_kern.o'));
    expect(loaded.status, loaded.stderr).to.equal(0);
    const parsed = JSON.parse(loaded.stdout) as { maps: { id: number }[] };
    expect(parsed.maps[0]!.id).to.be.a('number').and.to.be.greaterThan(0);
  });
});
