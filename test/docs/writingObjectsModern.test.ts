import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBpfFile, readObjectSpec } from '../../loader/index.js';
import { repoRoot } from '../support/fixtures.js';
import { requireFeature, requireKernel, requireTool } from '../support/kernel.js';

/**
 * docs/writing-objects.md's libbpf way as a user follows it: its C example, built with its
 * commands (a vmlinux.h from this kernel's BTF, clang -g) in a directory of its own, loads and
 * counts through the CLI, the TypeScript example and the generated skeleton.
 */

const guide = readFileSync(join(repoRoot, 'docs', 'writing-objects.md'), 'utf8');
const modern = guide.slice(guide.indexOf('\n## The libbpf way'));

function block(lang: string, containing: string): string {
  for (const match of modern.matchAll(/^```(\w+)\n([^]*?)^```$/gm)) {
    if (match[1] === lang && match[2]!.includes(containing)) return match[2]!;
  }
  throw new Error(`docs/writing-objects.md's libbpf way has no \`\`\`${lang} block with '${containing}'`);
}

const CLI = join(repoRoot, 'dist', 'loader', 'cli', 'bin.cjs');

/** A guide's `npx load-kern-object …` command as this checkout's CLI. */
function cliCommand(text: string): string {
  return text.trim().replace(/^npx load-kern-object/, `node ${JSON.stringify(CLI)}`);
}

/** tsc as a user's strict project compiles `files` in `dir` (bpf-load resolved through node_modules). */
function compile(dir: string, files: string[]): void {
  const result = spawnSync(process.execPath, [
    join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '--strict', '--target', 'ES2022', '--module', 'node16',
    '--lib', 'ES2023,esnext.disposable', '--types', 'node', ...files,
  ], { cwd: dir, encoding: 'utf8' });
  expect(result.status, result.stdout).to.equal(0);
}

describe("docs/writing-objects.md: the libbpf way's example builds and loads", function () {
  this.timeout(180_000);
  let work: string;

  before(function () {
    requireKernel(this);
    requireTool(this, 'clang');
    requireTool(this, 'bpftool');
    requireFeature(this, 'libbpf headers', existsSync('/usr/include/bpf/bpf_helpers.h') ? undefined :
      '/usr/include/bpf/bpf_helpers.h is missing (libbpf-dev; run: bash scripts/preflight.sh)');
    requireFeature(this, 'kernel BTF', existsSync('/sys/kernel/btf/vmlinux') ? undefined : '/sys/kernel/btf/vmlinux is missing');
    work = mkdtempSync(join(tmpdir(), 'bpf-load-guide-modern-'));
    writeFileSync(join(work, 'hello.bpf.c'), block('c', 'hello.bpf.c'));
    const build = spawnSync('bash', ['-e', '-c', block('sh', 'clang ')], { cwd: work, encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(build.status, `the guide's build commands failed:\n${build.stderr}`).to.equal(0);
    // a project that depends on bpf-load, as a user's would
    mkdirSync(join(work, 'node_modules', '@types'), { recursive: true });
    symlinkSync(repoRoot, join(work, 'node_modules', 'bpf-load'));
    symlinkSync(join(repoRoot, 'node_modules', '@types', 'node'), join(work, 'node_modules', '@types', 'node'));
    writeFileSync(join(work, 'package.json'), JSON.stringify({ type: 'module' }));
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the guide builds against a vmlinux.h made from the kernel, with -g', () => {
    expect(block('c', 'hello.bpf.c')).to.include('#include "vmlinux.h"').and.include('SEC(".maps")').and.include('const volatile');
    expect(block('sh', 'clang ')).to.include('bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h').and.include(' -g ');
  });

  it('the object has what the guide says: a BTF map, .rodata and .bss maps named after the file, a CO-RE read', async () => {
    const obj = await loadBpfFile(join(work, 'hello.bpf.o'), { variables: { target_ppid: process.pid } });
    try {
      expect(obj.maps.map((m) => [m.name, m.typeName, m.keySize, m.valueSize])).to.deep.equal([
        ['getuid_calls', 'hash', 4, 8], ['hello.rodata', 'array', 4, 4], ['hello.bss', 'array', 4, 4],
      ]);
      expect(obj.variable('target_ppid').get()).to.equal(process.pid);
      expect(obj.program('count_getuid').section).to.equal('tp/syscalls/sys_enter_getuid');
      // BPF_CORE_READ(task, real_parent, tgid): two field offsets relocated against the kernel
      const relos = readObjectSpec(join(work, 'hello.bpf.o')).programs['count_getuid']!.btfExt!.coreRelos;
      expect(relos.map((r) => r.accessString)).to.have.length.of.at.least(2);
    } finally {
      obj.close();
    }
  });

  it("the guide's CLI command loads it with the variable set, attached for the duration", () => {
    const run = spawnSync('bash', ['-e', '-c', cliCommand(block('sh', 'load-kern-object hello.bpf.o'))], { cwd: work, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/getuid_calls\s+hash/).and.match(/hello\.rodata\s+array/)
      .and.match(/attached: count_getuid -> tracepoint syscalls\/sys_enter_getuid/);
  });

  it("the guide's TypeScript example counts this process and reads the .bss variable", () => {
    writeFileSync(join(work, 'example.ts'), `${block('ts', "loadBpfFile('hello.bpf.o'")}\nexport {};\n`);
    compile(work, ['example.ts']);
    const run = spawnSync(process.execPath, ['example.js'], { cwd: work, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/getuid\(\) calls of pid \d+: [1-9]\d*n/);
    // the filter held: the last caller counted is a child of this test
    expect(run.stdout).to.include(`last caller's parent: ${process.pid}`);
  });

  it("the guide's skeleton: gen-types writes it, the typed example compiles under strict and runs", () => {
    const gen = spawnSync('bash', ['-e', '-c', cliCommand(block('sh', 'gen-types hello.bpf.o'))], { cwd: work, encoding: 'utf8' });
    expect(gen.status, gen.stderr).to.equal(0);
    writeFileSync(join(work, 'typed.ts'), `${block('ts', "from './hello.skel.js'")}\nexport {};\n`);
    compile(work, ['typed.ts']);
    const run = spawnSync(process.execPath, ['typed.js'], { cwd: work, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).to.equal(0);
    expect(run.stdout).to.match(new RegExp(`getuid\\(\\) calls of pid \\d+: [1-9]\\d*, parent ${process.pid}$`, 'm'));
  });
});
