import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './fixtures.js';

/**
 * tsc --strict --noEmit over `files` in `dir` (a generated skeleton and code that uses it), with
 * this checkout's TypeScript and Node types; an import of bpf-load is written as the path of this
 * build's dist/loader/index.js. The output is empty when everything compiles.
 */
export function tscStrict(dir: string, files: string[], options: { noUnusedLocals?: boolean } = {}): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [
    join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '--strict', '--noEmit', '--exactOptionalPropertyTypes',
    ...(options.noUnusedLocals === false ? [] : ['--noUnusedLocals']),
    '--target', 'es2022', '--lib', 'es2023,esnext.disposable', '--module', 'esnext', '--moduleResolution', 'bundler',
    '--types', 'node', '--typeRoots', join(repoRoot, 'node_modules', '@types'), '--skipLibCheck', ...files.map((f) => join(dir, f)),
  ], { encoding: 'utf8', cwd: dir });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}
