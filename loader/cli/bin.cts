#!/usr/bin/env node
import fs = require('node:fs');
import path = require('node:path');
import url = require('node:url');

// The build bundles run.js and everything it imports into dist/load-kern-object.cjs:
// one file to read and compile instead of ~60 modules, which is most of the
// CLI's start-up. Both this bin and the bundle are CommonJS because Node's ESM
// loader alone (module resolution, fs/promises, the ESM facade of node:fs)
// costs about 20 ms before the first line of the CLI runs. Without the bundle,
// or with one older than the modules (tsc ran again since, without the
// bundling step), the modules run as they are.
const bundle = path.join(__dirname, '..', '..', 'load-kern-object.cjs');
const modules = path.join(__dirname, 'run.js');
const bundled = fs.statSync(bundle, { throwIfNoEntry: false });
if (bundled && bundled.mtimeMs >= fs.statSync(modules).mtimeMs) require(bundle);
else void import(url.pathToFileURL(modules).href);
