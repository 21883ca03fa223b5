#!/usr/bin/env node
import fs = require('node:fs');
import path = require('node:path');
import url = require('node:url');
import subcommand = require('./subcommand.cjs');

// The build bundles run.js and everything it imports into dist/load-kern-object.cjs,
// and runPin.js (`dump` and `unpin` alone, a third of the size) into
// dist/load-kern-object-pin.cjs: one file to read and compile instead of ~60
// modules, which is most of the CLI's start-up. The bin and the bundles are
// CommonJS because Node's ESM loader alone (module resolution, fs/promises, the
// ESM facade of node:fs) costs about 20 ms before the first line of the CLI
// runs. Without the bundle, or with one older than the modules (tsc ran again
// since, without the bundling step), the modules run as they are.
const pin = subcommand.isPinSubcommand(process.argv.slice(2));
const bundle = path.join(__dirname, '..', '..', pin ? 'load-kern-object-pin.cjs' : 'load-kern-object.cjs');
const modules = path.join(__dirname, pin ? 'runPin.js' : 'run.js');
const bundled = fs.statSync(bundle, { throwIfNoEntry: false });
if (bundled && bundled.mtimeMs >= fs.statSync(modules).mtimeMs) require(bundle);
else void import(url.pathToFileURL(modules).href);
