#!/usr/bin/env node
import path = require('node:path');
import codeCache = require('./codeCache.cjs');

// The package's bin: the CLI bundled into CommonJS files by the build (dist/load-kern-object.cjs and
// the files of what each command does), which every build makes: Node reads and compiles one file
// instead of ~70 modules through its ESM loader, and compiles it from the code cache the build left
// beside it. Required directly, whatever the files' times.
codeCache.requireBundle(path.join(__dirname, '..', '..', 'load-kern-object.cjs'));
