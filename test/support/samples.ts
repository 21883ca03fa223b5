import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A compiled sample beside the compiled tests: dist/test/support/ → dist/samples/NAME.js (or .build-*\/samples). */
export function samplePath(name: string): string {
  return fileURLToPath(new URL(`../../samples/${name}.js`, import.meta.url));
}

/** Run a sample to its end (it is given --duration or the like), as a user runs it. */
export function runSample(name: string, ...args: string[]): { status: number | null; stdout: string; stderr: string; pid: number } {
  const result = spawnSync(process.execPath, [samplePath(name), ...args], { encoding: 'utf8', timeout: 15000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, pid: result.pid };
}
