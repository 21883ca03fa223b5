#!/usr/bin/env node
import { existsSync } from 'node:fs';

// The build bundles run.js and everything it imports into dist/load-kern-object.js:
// one module to read and compile instead of ~60, which is most of the CLI's
// start-up. Without the bundle (a tsc-only build) the modules run as they are.
const bundle = new URL('../../load-kern-object.js', import.meta.url);
if (existsSync(bundle)) await import(bundle.href);
else await import('./run.js');
