import fs = require('node:fs');
import path = require('node:path');
import vm = require('node:vm');
import Module = require('node:module');

/**
 * The CLI's bundles, compiled with V8 code caches made by the build.
 *
 * Compiling the bundles is most of what the CLI's start-up costs above
 * `node -e 0`: the build runs a few commands once and keeps, beside each
 * bundle, V8's code for every function they ran (`<bundle>.v8cache`). Here a
 * bundle is compiled with its cache, which V8 takes only when its own version,
 * its flags and the source's length match, and otherwise ignores: the bundle
 * is then compiled as require() would. Node 22's module.enableCompileCache()
 * does this for any module; Node 20 has no such switch.
 *
 * The caches are written only by the build (BPF_LOAD_WRITE_CODE_CACHE), into
 * the package's own directory, which the build empties of old caches before it
 * bundles: a cache is never read from anywhere another user could write.
 */

const WRITE = process.env['BPF_LOAD_WRITE_CODE_CACHE'] === '1';
const BUNDLE = /^\.\/load-kern-object-[A-Za-z0-9]+\.cjs$/;

interface Compiled {
  script: vm.Script;
  cache: string;
}

const compiled: Compiled[] = [];
/** how each bundle was compiled, for the tests: with its cache, with one V8 refused, or without one */
const outcomes: { file: string; cache: 'used' | 'refused' | 'none' }[] = [];

function cachePath(bundle: string): string {
  return `${bundle}.v8cache`;
}

/** require() of a bundle of the CLI, through its code cache; the bundles it requires go the same way. */
function requireBundle(file: string): unknown {
  // in require.cache like any module: a later require() of the file gets this one
  const known = require.cache[file];
  if (known) return known.exports;
  // the bundles start with a #! line: kept as a comment, so that lines keep their numbers in stack traces
  const source = fs.readFileSync(file, 'utf8').replace(/^#!/, '//');
  const cache = cachePath(file);
  let cachedData: Buffer | undefined;
  try {
    cachedData = fs.readFileSync(cache);
  } catch {
    // no cache (an unbuilt tree, or a build that could not run the CLI): compiled without one
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, ...(cachedData ? { cachedData } : {}) });
  if (WRITE) compiled.push({ script, cache });
  outcomes.push({ file, cache: cachedData === undefined ? 'none' : script.cachedDataRejected ? 'refused' : 'used' });
  const module = new Module(file);
  module.filename = file;
  module.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(path.dirname(file));
  const base = Module.createRequire(file);
  const dir = path.dirname(file);
  const requireIn = Object.assign((id: string): unknown => (BUNDLE.test(id) ? requireBundle(path.join(dir, id)) : base(id)), base);
  require.cache[file] = module;
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  try {
    wrapper.call(module.exports, module.exports, requireIn, module, file, dir);
  } catch (error) {
    delete require.cache[file];
    throw error;
  }
  module.loaded = true;
  return module.exports;
}

if (WRITE) {
  process.on('exit', () => {
    // after the run: the cache then holds every function the command compiled, not only the top level
    for (const { script, cache } of compiled) fs.writeFileSync(cache, script.createCachedData());
  });
}

/** How the bundles of this process were compiled (the tests check that the build's caches are taken). */
function report(): readonly { file: string; cache: 'used' | 'refused' | 'none' }[] {
  return outcomes;
}

export = { requireBundle, report };
