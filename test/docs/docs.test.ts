import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/fixtures.js';
import { requireKernel, requireTool } from '../support/kernel.js';

/**
 * Every example a user can run in README.md and docs/ is run here, so the
 * docs cannot drift from the code:
 * - ```sh blocks run with bash -e from the repository root (`npx load-kern-object`
 *   runs this checkout's CLI);
 * - ```ts blocks are compiled together as strict TypeScript importing 'bpf-load',
 *   then each runs as its own module from the repository root;
 * - ```js blocks (the plain-JavaScript forms) run as ES modules the same way.
 * ```text (output, fragments, other languages) is not run. Examples that change
 * the system clean up after themselves; they run as root, like the docs say.
 * A sh block runs in a mount namespace of its own with a bpffs of its own at
 * /sys/fs/bpf: an example pins under a fixed name a reader can type (the
 * README's /sys/fs/bpf/readme-xdp1), which another test run on the machine
 * pins at the same moment.
 */

interface Block {
  file: string;
  line: number;
  lang: 'sh' | 'ts' | 'js';
  code: string;
}

function markdownFiles(): string[] {
  const docs = readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f));
  return ['README.md', ...docs.sort()];
}

/** A block right after `<!-- not run: REASON -->` is left out, with the reason there for a reader of the source. */
const NOT_RUN = /^<!-- not run: \S.* -->$/;

function blocksOf(file: string): Block[] {
  const lines = readFileSync(join(repoRoot, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
    if (end < 0) throw new Error(`${file}:${i + 1}: a code block that is never closed`);
    const lang = open[1];
    if ((lang === 'sh' || lang === 'ts' || lang === 'js') && !NOT_RUN.test(lines[i - 1] ?? '')) {
      blocks.push({ file, line: i + 1, lang, code: lines.slice(i + 1, end).join('\n') });
    }
    i = end;
  }
  return blocks;
}

const allBlocks = markdownFiles().flatMap(blocksOf);
const label = (b: Block) => `${b.file}:${b.line}`;

/**
 * `npx load-kern-object` in the examples runs this build's CLI without npx's own start-up. In a
 * subshell (`npx load-kern-object metrics … &`, then `kill -INT $!`) it execs, so that $! is the CLI
 * itself, as it is npx's child; a background shell would ignore the SIGINT instead.
 */
const NPX_SHIM = `npx() { if [ "$1" = load-kern-object ]; then shift; if [ "$BASHPID" != "$$" ]; then exec node ${JSON.stringify(join(repoRoot, 'dist', 'loader', 'cli', 'bin.cjs'))} "$@"; fi; node ${JSON.stringify(join(repoRoot, 'dist', 'loader', 'cli', 'bin.cjs'))} "$@"; else command npx "$@"; fi; }`;

function run(command: string, args: string[], what: string, timeoutMs = 120_000): void {
  const child = spawnSync(command, args, { cwd: repoRoot, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env } });
  const output = `${child.stdout ?? ''}${child.stderr ?? ''}`.trim();
  expect(child.error, `${what}: ${String(child.error)}`).to.equal(undefined);
  expect(child.status, `${what} exited ${child.status}${child.signal ? ` (${child.signal})` : ''}:\n${output}`).to.equal(0);
}

describe('docs: every runnable example in README.md and docs/', function () {
  this.timeout(300_000);
  let work: string;

  before(function () {
    requireKernel(this);
    requireTool(this, 'clang');
    requireTool(this, 'unshare');
    work = mkdtempSync(join(tmpdir(), 'bpf-load-docs-'));
    // a project that depends on bpf-load, as a user's would
    mkdirSync(join(work, 'node_modules', '@types'), { recursive: true });
    symlinkSync(repoRoot, join(work, 'node_modules', 'bpf-load'));
    symlinkSync(join(repoRoot, 'node_modules', '@types', 'node'), join(work, 'node_modules', '@types', 'node'));
    symlinkSync(join(repoRoot, 'node_modules', 'prom-client'), join(work, 'node_modules', 'prom-client'));
    writeFileSync(join(work, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    writeFileSync(join(work, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'node16', moduleResolution: 'node16', strict: true, types: ['node'],
        lib: ['ES2023', 'esnext.disposable'], outDir: 'out', rootDir: 'src', skipLibCheck: false,
      },
      include: ['src'],
    }));
    mkdirSync(join(work, 'src'));
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('finds examples of each kind', () => {
    expect(allBlocks.filter((b) => b.lang === 'sh').length).to.be.greaterThan(5);
    expect(allBlocks.filter((b) => b.lang === 'ts').length).to.be.greaterThan(5);
    expect(allBlocks.filter((b) => b.file === 'README.md').length).to.be.greaterThan(1);
  });

  it('the TypeScript examples compile under strict settings against the published types', () => {
    for (const [i, block] of allBlocks.entries()) {
      if (block.lang !== 'ts') continue;
      writeFileSync(join(work, 'src', `example${i}.ts`), `// ${label(block)}\n${block.code}\nexport {};\n`);
    }
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const child = spawnSync(process.execPath, [tsc, '-p', join(work, 'tsconfig.json')], { encoding: 'utf8' });
    // name the doc and line of each error rather than the temporary file
    const errors = (child.stdout ?? '').replace(/\S*src\/example(\d+)\.ts\((\d+),\d+\)/g, (_, i: string, line: string) => {
      const block = allBlocks[Number(i)]!;
      return `${block.file}:${block.line + Number(line) - 1}`;
    });
    expect(child.status, errors).to.equal(0);
  });

  for (const [i, block] of allBlocks.entries()) {
    it(`${label(block)} (${block.lang}) runs`, function () {
      if (block.lang === 'sh') {
        run('unshare', ['--mount', '--propagation', 'private', 'bash', '-e', '-o', 'pipefail', '-c',
          `mount -t bpf bpf /sys/fs/bpf\n${NPX_SHIM}\n${block.code}`], label(block));
      } else if (block.lang === 'ts') {
        run(process.execPath, [join(work, 'out', `example${i}.js`)], label(block));
      } else {
        const path = join(work, `example${i}.mjs`);
        writeFileSync(path, `${block.code}\n`);
        run(process.execPath, [path], label(block));
      }
    });
  }
});
