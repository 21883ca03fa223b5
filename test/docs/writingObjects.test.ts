import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBpfFile, u32, u64 } from '../../loader/index.js';
import { repoRoot } from '../support/fixtures.js';
import { requireFeature, requireKernel, requireTool } from '../support/kernel.js';

/**
 * docs/writing-objects.md as a user follows it: its C example, built with its
 * clang command in a directory of its own, loads and counts, through the CLI
 * and through the TypeScript example.
 */

const guide = readFileSync(join(repoRoot, 'docs', 'writing-objects.md'), 'utf8');

function block(lang: string, containing: string): string {
  for (const match of guide.matchAll(/^```(\w+)\n([^]*?)^```$/gm)) {
    if (match[1] === lang && match[2]!.includes(containing)) return match[2]!;
  }
  throw new Error(`docs/writing-objects.md has no \`\`\`${lang} block with '${containing}'`);
}

describe('docs/writing-objects.md: the example builds and loads', function () {
  this.timeout(120_000);
  let work: string;

  before(function () {
    requireKernel(this);
    requireTool(this, 'clang');
    requireFeature(this, 'libbpf headers', readable('/usr/include/bpf/bpf_helpers.h') ? undefined :
      '/usr/include/bpf/bpf_helpers.h is missing (libbpf-dev; run: bash scripts/preflight.sh)');
    work = mkdtempSync(join(tmpdir(), 'bpf-load-guide-'));
    writeFileSync(join(work, 'hello_kern.c'), block('c', 'hello_kern.c'));
    const build = spawnSync('bash', ['-e', '-c', block('sh', 'clang ')], { cwd: work, encoding: 'utf8' });
    expect(build.status, `the guide's clang command failed:\n${build.stderr}`).to.equal(0);
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the guide declares the struct itself and builds against the distribution headers', () => {
    expect(block('c', 'hello_kern.c')).to.include('struct bpf_map_def {').and.include('#include <bpf/bpf_helpers.h>');
    expect(block('sh', 'clang ')).to.include('-I/usr/include/$(uname -m)-linux-gnu');
  });

  it('the built object loads, attaches and counts this process', async () => {
    const obj = await loadBpfFile(join(work, 'hello_kern.o'), { attach: true });
    try {
      expect(obj.maps.map((m) => [m.name, m.typeName, m.keySize, m.valueSize, m.maxEntries])).to.deep.equal([
        ['getuid_calls', 'hash', 4, 8, 1024],
      ]);
      process.getuid?.();
      process.getuid?.();
      const calls = obj.map('getuid_calls', { key: u32, value: u64 }).lookup(process.pid);
      expect(calls !== undefined && calls >= 2n, `calls: ${calls}`).to.equal(true);
    } finally {
      obj.close();
    }
  });

  it("the guide's CLI command loads it", () => {
    const command = block('sh', 'load-kern-object hello_kern.o').trim().replace('--duration 5', '--duration 1')
      .replace(/^npx load-kern-object/, `node ${JSON.stringify(join(repoRoot, 'dist', 'loader', 'cli', 'bin.cjs'))}`);
    const run = spawnSync('bash', ['-e', '-c', command], { cwd: work, encoding: 'utf8', timeout: 30_000 });
    expect(run.status, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/getuid_calls\s+hash/).and.match(/attached: count_getuid -> tracepoint syscalls\/sys_enter_getuid/);
  });

  it("the guide's TypeScript example runs against it", () => {
    mkdirSync(join(work, 'node_modules'));
    symlinkSync(repoRoot, join(work, 'node_modules', 'bpf-load'));
    // compiled as a user's strict project would; Node 20 runs the emitted try/finally for `using`
    const source = block('ts', "loadBpfFile('hello_kern.o'");
    writeFileSync(join(work, 'example.ts'), `${source}\nexport {};\n`);
    writeFileSync(join(work, 'package.json'), JSON.stringify({ type: 'module' }));
    mkdirSync(join(work, 'node_modules', '@types'));
    symlinkSync(join(repoRoot, 'node_modules', '@types', 'node'), join(work, 'node_modules', '@types', 'node'));
    const compile = spawnSync(process.execPath, [
      join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '--strict', '--target', 'ES2022', '--module', 'node16',
      '--lib', 'ES2023,esnext.disposable', '--types', 'node', 'example.ts',
    ], { cwd: work, encoding: 'utf8' });
    expect(compile.status, compile.stdout).to.equal(0);
    const run = spawnSync(process.execPath, ['example.js'], { cwd: work, encoding: 'utf8', timeout: 30_000 });
    expect(run.status, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/getuid\(\) calls of pid \d+: [1-9]\d*n/);
  });
});

function readable(path: string): boolean {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}
