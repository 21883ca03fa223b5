#!/usr/bin/env node
import path = require('node:path');

// The package's bin: the CLI bundled into CommonJS files by the build (dist/load-kern-object.cjs and
// the files of what each command does), which every build makes: Node reads and compiles one file
// instead of ~70 modules through its ESM loader. Required directly, whatever the files' times.
require(path.join(__dirname, '..', '..', 'load-kern-object.cjs'));
