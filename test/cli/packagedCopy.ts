import { chmodSync, cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, relative } from 'node:path';
import { fixturePath, repoRoot } from '../support/fixtures.js';

/**
 * What a test that runs the CLI as another user (nobody) runs: a copy of the
 * built package — dist/ without the tests, package.json, koffi, the fixtures
 * it names — in a directory under /tmp that everyone may read and search. The
 * clone itself may sit where nobody may look (a 0700 home, a mktemp -d).
 */
export interface PackagedCopy {
  /** the copy's bin (dist/loader/cli/bin.cjs) */
  cli: string;
  /** the copy's public API (dist/loader/index.js) */
  api: string;
  /** a fixture, copied */
  fixture(name: string): string;
  remove(): void;
}

export function packagedCopy(fixtures: readonly string[] = []): PackagedCopy {
  const root = mkdtempSync('/tmp/bpf-load-copy-');
  const skip = new Set(['test', 'bench', 'samples'].map((name) => join(repoRoot, 'dist', name)));
  cpSync(join(repoRoot, 'dist'), join(root, 'dist'), { recursive: true, filter: (source) => !skip.has(source) });
  cpSync(join(repoRoot, 'package.json'), join(root, 'package.json'));
  // every production dependency, transitively (koffi's native addon is an optional one of its own):
  // what an install of the package would put beside it
  for (const from of productionDependencies()) {
    if (existsSync(from)) cpSync(from, join(root, relative(repoRoot, from)), { recursive: true });
  }
  for (const name of fixtures) cpSync(fixturePath(name), join(root, 'fixtures', name));
  // mkdtemp makes it 0700; cpSync keeps the modes of what it copies (0644 files, 0755 directories)
  chmodSync(root, 0o755);
  for (const dir of ['node_modules', ...(fixtures.length ? ['fixtures'] : [])]) chmodSync(join(root, dir), 0o755);
  return {
    cli: join(root, 'dist', 'loader', 'cli', 'bin.cjs'),
    api: join(root, 'dist', 'loader', 'index.js'),
    fixture: (name) => join(root, 'fixtures', name),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** The folders of the package's dependencies and theirs, as npm resolved them (no dev dependency). */
function productionDependencies(): string[] {
  const listed = execFileSync('npm', ['ls', '--omit=dev', '--parseable', '--all'], { cwd: repoRoot, encoding: 'utf8' });
  return listed.split('\n').filter((line) => line.startsWith(join(repoRoot, 'node_modules') + '/'));
}
