import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath, repoRoot } from '../support/fixtures.js';
import { requireKernel } from '../support/kernel.js';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: Record<string, string>; dependencies: Record<string, string> };
const bin = join(repoRoot, pkg.bin['load-kern-object']!);
const dist = join(repoRoot, 'dist');
const shell = join(dist, 'load-kern-object.cjs');
const unbundled = join(dist, 'loader', 'cli', 'run.js');

function run(entry: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [entry, ...args], { encoding: 'utf8', timeout: 30_000 });
}

function bundles(): string[] {
  return readdirSync(dist).filter((name) => /^load-kern-object.*\.cjs$/.test(name)).map((name) => join(dist, name));
}

describe('cli: the bundled CLI the bin runs', () => {
  before(() => {
    if (!existsSync(shell)) throw new Error(`${shell} is missing: build it with npm run build (scripts/build.mjs)`);
  });

  it('yargs runs it: a dependency of the package, bundled into the shell, which has no hand-written parser', () => {
    expect(pkg.dependencies).to.have.property('yargs');
    const text = readFileSync(shell, 'utf8');
    expect(text).to.include('node_modules/yargs/build/index.cjs');
    expect(existsSync(join(repoRoot, 'loader', 'cli', 'args.ts'))).to.equal(false);
  });

  it('each bundle is one CommonJS file in strict mode: no relative imports but the other bundles, koffi left to the installed package', () => {
    const files = bundles();
    expect(files.map((f) => f.slice(dist.length + 1))).to.include.members([
      'load-kern-object.cjs', 'load-kern-object-loadRun.cjs', 'load-kern-object-pinCommands.cjs', 'load-kern-object-events.cjs',
    ]);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      expect(text.split('\n').slice(0, 2), file).to.deep.equal(['#!/usr/bin/env node', "'use strict';"]);
      expect(text, file).to.not.match(/from ["']\.\.?\//);
      expect(text, file).to.not.match(/^import /m);
      for (const [, target] of text.matchAll(/require\("(\.[^"]*)"\)/g)) expect(target, file).to.match(/^\.\/load-kern-object-\w+\.cjs$/);
    }
    // the shell parses and prints help: no loader, no FFI; a command's work comes in by require() when it runs
    const text = readFileSync(shell, 'utf8');
    expect(text).to.not.include('dist/loader/load/loadBpfFile.js');
    expect(text).to.not.include('koffi');
    expect(text).to.not.match(/\bimport\(/);
    expect(readFileSync(join(dist, 'load-kern-object-pinCommands.cjs'), 'utf8')).to.not.include('dist/loader/load/loadBpfFile.js');
    expect(readFileSync(join(dist, 'load-kern-object-loadRun.cjs'), 'utf8')).to.match(/\(["']koffi["']\)/);
  });

  it('the bin runs the bundle whatever the files\' times: no mtime guess (npm writes them in any order)', () => {
    const source = readFileSync(bin, 'utf8');
    expect(source).to.not.match(/mtime|statSync/);
    expect(source).to.match(/requireBundle\(path.join\(__dirname, '..', '..', 'load-kern-object.cjs'\)\)/);
    // the unbundled modules newer than the bundle, as an install may leave them: still the bundle
    const later = new Date(Date.now() + 60_000);
    utimesSync(unbundled, later, later);
    const traced = spawnSync(process.execPath, ['--trace-warnings', '-e', `require(${JSON.stringify(bin)}); setImmediate(() => console.error(Object.keys(require.cache).join('\\n')))`, '--', '--version'], { encoding: 'utf8' });
    expect(traced.stderr).to.include(shell);
    expect(traced.stderr).to.not.include(unbundled);
  });

  it('the bin, the bundle and the unbundled modules print the same: --dry-run --json, --help, --version, usage errors, dump and unpin', function () {
    // 30 processes, a third of them through the ESM loader: seconds each on a machine busy with other work
    this.timeout(180_000);
    expect(bin).to.equal(join(repoRoot, 'dist', 'loader', 'cli', 'bin.cjs'));
    for (const args of [['--dry-run', '--json', fixturePath('map_def28_kern.o')], ['--help'], ['--version'], ['dump', '--help'], ['--bogus', 'x.o'],
      ['unpin', '--help'], ['dump'], ['dump', '/no/such/pin'], ['unpin', '/no/such/dir', '--json'], ['completion']]) {
      const expected = run(unbundled, ...args);
      for (const entry of [bin, shell]) {
        const got = run(entry, ...args);
        expect([got.status, got.stdout, got.stderr], `${entry} ${args.join(' ')}`).to.deep.equal([expected.status, expected.stdout, expected.stderr]);
      }
    }
  });

  it("compiles each bundle from the build's V8 code cache beside it, and a cache V8 refuses costs only the compile", function () {
    this.timeout(60_000);
    const codeCache = join(dist, 'loader', 'cli', 'codeCache.cjs');
    /** the CLI run the way the bin runs it, and how each bundle it loaded was compiled */
    const traced = (root: string, ...args: string[]): { stdout: string; report: { file: string; cache: string }[] } => {
      const script = `const c = require(${JSON.stringify(join(root, 'loader', 'cli', 'codeCache.cjs'))});
process.on('exit', () => process.stderr.write('\\nREPORT ' + JSON.stringify(c.report()) + '\\n'));
c.requireBundle(${JSON.stringify(join(root, 'load-kern-object.cjs'))});`;
      // with -e, process.argv[1] is the first argument after --: a stand-in for the bin's path
      const child = spawnSync(process.execPath, ['-e', script, '--', 'bin', ...args], { encoding: 'utf8', timeout: 30_000 });
      expect(child.status, child.stderr).to.equal(0);
      const line = child.stderr.split('\n').find((l) => l.startsWith('REPORT '));
      expect(line, child.stderr).to.be.a('string');
      return { stdout: child.stdout, report: JSON.parse(line!.slice('REPORT '.length)) as { file: string; cache: string }[] };
    };
    expect(existsSync(codeCache)).to.equal(true);
    const args = ['--dry-run', '--json', fixturePath('map_def28_kern.o')];
    const built = traced(dist, ...args);
    expect(built.report.map((r) => [r.file.slice(dist.length + 1), r.cache])).to.deep.equal([
      ['load-kern-object.cjs', 'used'], ['load-kern-object-loadRun.cjs', 'used'],
    ]);
    // the same bundles beside caches that are not theirs (another bundle's, and garbage): V8 refuses them
    const copy = mkdtempSync(join(tmpdir(), 'bpf-load-code-cache-'));
    try {
      mkdirSync(join(copy, 'loader', 'cli'), { recursive: true });
      copyFileSync(codeCache, join(copy, 'loader', 'cli', 'codeCache.cjs'));
      for (const file of bundles()) copyFileSync(file, join(copy, file.slice(dist.length + 1)));
      copyFileSync(join(dist, 'load-kern-object-report.cjs.v8cache'), join(copy, 'load-kern-object.cjs.v8cache'));
      writeFileSync(join(copy, 'load-kern-object-loadRun.cjs.v8cache'), Buffer.alloc(4096, 0x5a));
      const refused = traced(copy, ...args);
      expect(refused.report.map((r) => r.cache)).to.deep.equal(['refused', 'refused']);
      expect(refused.stdout).to.equal(built.stdout);
      // and with no cache at all
      for (const name of readdirSync(copy)) if (name.endsWith('.v8cache')) rmSync(join(copy, name));
      const none = traced(copy, ...args);
      expect(none.report.map((r) => r.cache)).to.deep.equal(['none', 'none']);
      expect(none.stdout).to.equal(built.stdout);
    } finally {
      rmSync(copy, { recursive: true, force: true });
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
