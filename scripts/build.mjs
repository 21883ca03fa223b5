// Builds dist/ wherever npm asks for it. `node scripts/build.mjs` builds everything (library, tests,
// samples, bench); `--package` only what the package ships, which is what `prepare` runs: in a clone
// (`npm install`), for a git URL dependency, for `npm pack`, and for a folder dependency
// (`npm install /path/to/bpf-load`), where npm runs it in the folder without installing its dev
// dependencies first: then they are installed there, so the consumer never needs them.
import { chmodSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const project = process.argv.includes('--package') ? 'tsconfig.build.json' : 'tsconfig.json';

function resolveTsc() {
  try {
    return require.resolve('typescript/bin/tsc');
  } catch {
    return undefined;
  }
}

function run(command, args) {
  const child = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (child.status !== 0) {
    console.error(`bpf-load: build step failed: ${command} ${args.join(' ')}`);
    process.exit(child.status ?? 1);
  }
}

let tsc = resolveTsc();
if (!tsc) {
  console.error('bpf-load: building dist/ needs its dev dependencies; installing them in this folder');
  run('npm', ['install', '--include=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--no-save']);
  tsc = resolveTsc();
}
run(process.execPath, [tsc, '-p', project]);
// tsc writes files 0644; the CLI is run as a program (npx, the package's bin)
chmodSync(join(root, 'dist', 'loader', 'cli', 'bin.cjs'), 0o755);
chmodSync(join(root, 'dist', 'loader', 'cli', 'bin.js'), 0o755);

// The CLI in one file: dist/loader/cli/run.js and everything it imports, yargs included, which the
// package's bin (dist/loader/cli/bin.cjs) requires: every build makes it, so the bin never has to
// guess whether it is there or current. Node then reads and compiles one file instead of ~70
// modules, most of what the CLI's start-up costs above `node -e 0`. What only one command needs is
// imported by that command when it runs (esbuild keeps such a module's code in the file, run on
// first use). CommonJS: Node's ESM loader costs ~20 ms more before the first line runs. koffi stays
// outside: it is a native addon, loaded only by commands that make system calls. The unbundled
// dist/ (ESM) stays what the library's importers use.
const { build } = await import(pathToFileURL(require.resolve('esbuild')).href);
// the bundles of earlier builds: nothing runs them any more
for (const old of ['load-kern-object.js', 'load-kern-object-pin.cjs']) rmSync(join(root, 'dist', old), { force: true });
await build({
  entryPoints: { 'load-kern-object': join(root, 'dist', 'loader', 'cli', 'run.js') },
  outdir: join(root, 'dist'),
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['koffi'],
  // the modules find package.json and koffi from import.meta.url: in the bundle, the bundle's own URL
  define: { 'import.meta.url': '__bundleUrl' },
  // runnable by itself too (node dist/load-kern-object.cjs, or as a program)
  banner: { js: "#!/usr/bin/env node\n'use strict';\nconst __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
chmodSync(join(root, 'dist', 'load-kern-object.cjs'), 0o755);
