#!/usr/bin/env node
// The package's bin: the whole CLI bundled into one CommonJS file by the build
// (dist/load-kern-object.cjs, which every build makes), so Node reads and
// compiles one file instead of ~70 modules through its ESM loader.
require('../../load-kern-object.cjs');
