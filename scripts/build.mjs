// Builds dist/ wherever npm asks for it. `node scripts/build.mjs` builds everything (library, tests,
// samples, bench); `--package` only what the package ships, which is what `prepare` runs: in a clone
// (`npm install`), for a git URL dependency, for `npm pack`, and for a folder dependency
// (`npm install /path/to/bpf-load`), where npm runs it in the folder without installing its dev
// dependencies first: then they are installed there, so the consumer never needs them.
import { chmodSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
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

// The CLI in a few CommonJS files. dist/load-kern-object.cjs, which the package's bin
// (dist/loader/cli/bin.cjs) requires: dist/loader/cli/run.js and what it imports, yargs included —
// what parsing, --help and a usage error need. Each module a command imports when it runs (every
// dynamic import() there) is a file of its own, dist/load-kern-object-<module>.cjs, with what it
// imports: `dump` reads the map code, not the loader. Every build makes them all, so the bin never
// has to guess whether they are there or current. Node then reads and compiles a file or two instead
// of ~70 modules through its ESM loader (which alone costs ~20 ms before the first line runs); most
// of what the CLI's start-up costs above `node -e 0` is that. Classes the files share (the error
// family) are copied into each, so the CLI tells bpf-load's errors by their code, never by
// instanceof across files. koffi stays outside: it is a native addon, loaded only by commands that
// make system calls. The unbundled dist/ (ESM) stays what the library's importers use.
const { build } = await import(pathToFileURL(require.resolve('esbuild')).href);
// code caches of an earlier build belong to its bundles: gone before any bundle is rewritten
for (const file of readdirSync(join(root, 'dist'))) if (file.endsWith('.v8cache')) rmSync(join(root, 'dist', file));
const cli = join(root, 'dist', 'loader', 'cli');
const common = {
  outdir: join(root, 'dist'),
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['koffi'],
  // the modules find package.json and koffi from import.meta.url: in a bundle, the bundle's own URL
  define: { 'import.meta.url': '__bundleUrl' },
  // runnable by itself too (node dist/load-kern-object.cjs, or as a program)
  banner: { js: "#!/usr/bin/env node\n'use strict';\nconst __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
};
/** a module a command imports when it runs → the name of its bundle */
const lazy = new Map();
// yargs lays out --help with cliui, which measures every word with string-width and wraps every
// column with wrap-ansi: string-width builds its emoji regex again at each call and wrap-ansi walks
// each line character by character for escape codes, which made printing --help cost more than
// all of yargs' parsing. Printable ASCII (all of bpf-load's help) is as wide as it is long and has
// no escape codes: that text takes a short path with the same result (the bundle tests compare the
// bundle's --help with the unbundled CLI's); any other text goes to the packages themselves.
const ASCII_TEXT = {
  'string-width': `const width = require('string-width');
module.exports = (text) => (typeof text === 'string' && /^[\\x20-\\x7e]*$/.test(text) ? text.length : width(text));
`,
  'wrap-ansi': `const wrap = require('wrap-ansi');
// wrap-ansi's own steps for a line of printable ASCII, with trim and word wrap on (what cliui asks)
function line(text, columns) {
  if (text.trim() === '') return '';
  const rows = [''];
  for (const [index, word] of text.split(' ').entries()) {
    rows[rows.length - 1] = rows[rows.length - 1].trimStart();
    let length = rows[rows.length - 1].length;
    if (index !== 0 && length > 0) {
      rows[rows.length - 1] += ' ';
      length++;
    }
    if (length + word.length > columns && length > 0 && word.length > 0) rows.push('');
    rows[rows.length - 1] += word;
  }
  return rows.map((row) => {
    const words = row.split(' ');
    let last = words.length;
    while (last > 0 && words[last - 1].length === 0) last--;
    return last === words.length ? row : words.slice(0, last).join(' ') + words.slice(last).join('');
  }).join('\\n');
}
module.exports = (text, columns, options = {}) => {
  const plain = typeof text === 'string' && /^[\\x20-\\x7e\\n]*$/.test(text);
  if (!plain || options.trim === false || options.wordWrap === false || text.split(/[ \\n]/).some((word) => word.length > columns)) {
    return wrap(text, columns, options);
  }
  return text.split('\\n').map((each) => line(each, columns)).join('\\n');
};
`,
};
const asciiText = {
  name: 'ascii-text',
  setup(b) {
    b.onResolve({ filter: /^(string-width|wrap-ansi)$/ }, (args) =>
      args.namespace === 'ascii-text' ? undefined : { path: args.path, namespace: 'ascii-text' });
    b.onLoad({ filter: /.*/, namespace: 'ascii-text' }, (args) => ({
      contents: ASCII_TEXT[args.path],
      loader: 'js',
      resolveDir: join(root, 'node_modules', 'cliui'),
    }));
  },
};
await build({
  ...common,
  entryPoints: { 'load-kern-object': join(cli, 'run.js') },
  plugins: [asciiText, {
    name: 'lazy-modules',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind !== 'dynamic-import') return undefined;
        const path = join(args.resolveDir, args.path);
        const name = `load-kern-object-${basename(path, '.js')}`;
        if ([...lazy].some(([other, taken]) => taken === name && other !== path)) throw new Error(`two lazy modules named ${name}`);
        lazy.set(path, name);
        return { path, namespace: 'lazy-modules' };
      });
      // require(), not import(): an import() of a CommonJS file goes through Node's ESM loader, which
      // costs more than the file (it scans the whole file for its exports)
      b.onLoad({ filter: /.*/, namespace: 'lazy-modules' }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(`./${lazy.get(args.path)}.cjs`)});`,
        loader: 'js',
      }));
      b.onResolve({ filter: /^\.\/load-kern-object-.*\.cjs$/ }, (args) => ({ path: args.path, external: true }));
    },
  }],
});
await build({ ...common, entryPoints: Object.fromEntries([...lazy].map(([path, name]) => [name, path])) });
const bundles = ['load-kern-object', ...lazy.values()];
for (const name of bundles) chmodSync(join(root, 'dist', `${name}.cjs`), 0o755);
writeCodeCaches();
// a bundle of an earlier build that nothing imports any more
for (const file of readdirSync(join(root, 'dist'))) {
  if (/^load-kern-object.*\.c?js$/.test(file) && !bundles.includes(file.replace(/\.c?js$/, ''))) rmSync(join(root, 'dist', file));
}

/**
 * V8 code caches of the bundles (loader/cli/codeCache.cts): the CLI run once for each of a few
 * commands that need no privilege, each run adding the functions it compiled to the caches of the
 * bundles it loaded. A command that fails (no such pin) still compiles its path; its status is not
 * the build's business. A cache V8 refuses later (another Node) costs nothing but its read.
 */
function writeCodeCaches() {
  const bin = join(root, 'dist', 'loader', 'cli', 'bin.cjs');
  const fixture = (name) => join(root, 'fixtures', name);
  const runs = [
    ['--help'],
    ['--version'],
    ['--dry-run', fixture('map_def28_kern.o')],
    ['--dry-run', '--json', fixture('map_def28_kern.o')],
    ['--dry-run', fixture('modern/globals.bpf.o')],
    ['--dry-run', '--convention', 'tc', fixture('tc_maps_kern.o')],
    ['dump', '--help'],
    ['dump', join(root, 'dist', 'no-such-pin')],
    ['unpin', '--help'],
    ['events', '--help'],
    ['metrics', '--help'],
    ['gen-types', '--help'],
    ['gen-types', fixture('modern/globals.bpf.o')],
    ['--no-such-option'],
  ];
  for (const args of runs) {
    if (args.some((arg) => arg.startsWith(join(root, 'fixtures')) && !existsSync(arg))) continue;
    spawnSync(process.execPath, [bin, ...args], {
      cwd: root, stdio: 'ignore', timeout: 60_000, env: { ...process.env, BPF_LOAD_WRITE_CODE_CACHE: '1' },
    });
  }
}
