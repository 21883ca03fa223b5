import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePath, repoRoot } from '../support/fixtures.js';
import { requireKernel } from '../support/kernel.js';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> };
const bin = join(repoRoot, pkg.bin['load-kern-object']!);
const bundled = join(repoRoot, 'dist', 'load-kern-object.cjs');
const pinBundled = join(repoRoot, 'dist', 'load-kern-object-pin.cjs');
const unbundled = join(repoRoot, 'dist', 'loader', 'cli', 'run.js');

function run(bin: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 });
}

describe('cli: the bundled CLI the bin runs', () => {
  before(() => {
    for (const file of [bundled, pinBundled]) {
      if (!existsSync(file)) throw new Error(`${file} is missing: build it with npm run build (scripts/build.mjs)`);
    }
  });

  it('each bundle is one CommonJS file in strict mode, as the ESM modules were: no relative imports, koffi left to the installed package', () => {
    for (const file of [bundled, pinBundled]) {
      const text = readFileSync(file, 'utf8');
      expect(text.split('\n').slice(0, 2), file).to.deep.equal(['#!/usr/bin/env node', "'use strict';"]);
      expect(text, file).to.not.match(/from ["']\.\.?\//);
      expect(text, file).to.not.match(/^import /m);
      expect(text, file).to.match(/\(["']koffi["']\)/);
      // elfy is inside: the installed package's CLI resolves no package but koffi
      expect(text, file).to.not.match(/require\(["']elfy["']\)/);
      expect(text, file).to.include('node_modules/elfy/lib/elfy/parser.js');
    }
    // the pin bundle leaves out the load command: no loader, no tc, no events
    const pin = readFileSync(pinBundled, 'utf8');
    expect(pin).to.not.include('dist/loader/load/loadBpfFile.js');
    expect(pin).to.not.include('dist/loader/cli/events.js');
    expect(pin.length).to.be.below(readFileSync(bundled, 'utf8').length / 2);
  });

  it('the bin, the bundle and the unbundled modules print the same: --dry-run --json, --help, --version, a usage error', () => {
    expect(bin).to.equal(join(repoRoot, 'dist', 'loader', 'cli', 'bin.cjs'));
    for (const args of [['--dry-run', '--json', fixturePath('map_def28_kern.o')], ['--help'], ['--version'], ['dump', '--help'], ['--bogus', 'x.o']]) {
      const expected = run(unbundled, ...args);
      for (const entry of [bin, bundled]) {
        const got = run(entry, ...args);
        expect([got.status, got.stdout, got.stderr], `${entry} ${args.join(' ')}`).to.deep.equal([expected.status, expected.stdout, expected.stderr]);
      }
    }
    // dump and unpin: the bin runs the pin bundle, which says what the whole CLI says
    for (const args of [['dump', '--help'], ['unpin', '--help'], ['dump'], ['dump', '/no/such/pin'], ['unpin', '/no/such/dir', '--json']]) {
      const expected = run(unbundled, ...args);
      for (const entry of [bin, pinBundled]) {
        const got = run(entry, ...args);
        expect([got.status, got.stdout, got.stderr], `${entry} ${args.join(' ')}`).to.deep.equal([expected.status, expected.stdout, expected.stderr]);
      }
    }
  });

  it('the old bin path (bin.js, which npx may have cached a link to) runs the same CLI', () => {
    const old = join(repoRoot, 'dist', 'loader', 'cli', 'bin.js');
    for (const args of [['--version'], ['--bogus', 'x.o']]) {
      const expected = run(bin, ...args);
      const got = run(old, ...args);
      expect([got.status, got.stdout, got.stderr]).to.deep.equal([expected.status, expected.stdout, expected.stderr]);
    }
  });

  it("package-lock.json's root entry names the same bin (npm ci links that one into node_modules/.bin, which npx runs in a checkout)", () => {
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { bin?: Record<string, string> }> };
    expect(lock.packages['']!.bin).to.deep.equal(pkg.bin);
  });

  it('loads an object with the kernel (koffi found from the bundle)', function () {
    requireKernel(this);
    const loaded = run(bin, '--json', fixturePath('socket_count_kern.o'));
    expect(loaded.status, loaded.stderr).to.equal(0);
    const parsed = JSON.parse(loaded.stdout) as { maps: { id: number }[] };
    expect(parsed.maps[0]!.id).to.be.a('number').and.to.be.greaterThan(0);
  });
});
