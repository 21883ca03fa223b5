// Builds dist/ wherever npm asks for it. `node scripts/build.mjs` builds everything (library, tests,
// samples, bench); `--package` only what the package ships, which is what `prepare` runs: in a clone
// (`npm install`), for a git URL dependency, for `npm pack`, and for a folder dependency
// (`npm install /path/to/bpf-load`), where npm runs it in the folder without installing its dev
// dependencies first: then they are installed there, so the consumer never needs them.
import { chmodSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
chmodSync(join(root, 'dist', 'loader', 'cli', 'bin.js'), 0o755);
