import koffi, { type LibraryHandle } from 'koffi';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** Compile a C source into the shared library `out` (making its folder, bench/build) and load it through koffi. */
export function compileLibrary(source: string, out: string): LibraryHandle {
  mkdirSync(dirname(out), { recursive: true });
  execFileSync('cc', ['-O2', '-Wall', '-shared', '-fPIC', '-o', out, source], { stdio: 'inherit' });
  return koffi.load(out);
}
