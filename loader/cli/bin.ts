#!/usr/bin/env node
import { statSync } from 'node:fs';

// The build bundles run.js and everything it imports into dist/load-kern-object.js:
// one module to read and compile instead of ~60, which is most of the CLI's
// start-up. Without the bundle, or with one older than the modules (tsc ran
// again since, without the bundling step), the modules run as they are.
const bundle = new URL('../../load-kern-object.js', import.meta.url);
const modules = new URL('./run.js', import.meta.url);
const bundled = statSync(bundle, { throwIfNoEntry: false });
if (bundled && bundled.mtimeMs >= statSync(modules).mtimeMs) await import(bundle.href);
else await import('./run.js');
