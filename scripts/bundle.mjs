// The load-kern-object executable: dist/loader/cli/bin.js (tsc's output) and
// everything it imports in one file. Node then resolves, reads
// and compiles one module instead of ~60, which is most of what the CLI's
// start-up cost above `node -e 0`. koffi stays outside: it is a native addon,
// loaded only by commands that make system calls. Run after tsc (npm run build).
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(repo, 'dist', 'load-kern-object.js');

await build({
  entryPoints: [join(repo, 'dist', 'loader', 'cli', 'bin.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['koffi'],
  minifyWhitespace: process.env.BUNDLE_MINIFY === '1',
  minifySyntax: process.env.BUNDLE_MINIFY === '1',
  logLevel: 'warning',
});
chmodSync(outfile, 0o755);
