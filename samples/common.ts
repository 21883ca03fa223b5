import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isBpfLoadError } from '../loader/index.js';

/** The repository root from a compiled sample (dist/samples/x.js or .build-*\/samples/x.js). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function fixture(name: string): string {
  return join(repoRoot, 'fixtures', name);
}

/** --duration N plus the sample's own options; --help prints `usage`. */
type OptionSpec = { type: 'string'; short?: string; default?: string } | { type: 'boolean'; short?: string; default?: boolean };

export interface SampleArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  duration: number | undefined;
}

export function sampleArgs(usage: string, options: Record<string, OptionSpec>): SampleArgs {
  let parsed: { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({
      // a sample may give --duration a short form of its own (opensnoop's -d)
      options: { duration: { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...options },
      allowPositionals: true,
    });
  } catch (error) {
    fail(`${(error as Error).message}\n${usage}`);
  }
  if (parsed.values.help) {
    console.log(usage);
    process.exit(0);
  }
  const raw = parsed.values.duration as string | undefined;
  const duration = raw === undefined ? undefined : Number(raw);
  if (duration !== undefined && !(duration >= 0)) fail(`--duration must be a number of seconds, not '${raw}'`);
  return { values: parsed.values as SampleArgs['values'], positionals: parsed.positionals, duration };
}

let stopRequested = false;
let onStop: (() => void) | undefined;
function requestStop(): void {
  if (onStop) return onStop();
  if (stopRequested) process.exit(130);
  stopRequested = true;
}

/**
 * For a sample that sets up what outlives it (a veth pair, an XDP attachment),
 * first thing: from now on SIGINT / SIGTERM do not kill the process halfway
 * through the setup; the setup finishes, then everySecond() stops at once and
 * runs the cleanup. A second signal before the sample counts, or any after it
 * finished, ends the process at once.
 */
export function deferStopSignals(): void {
  if (process.listeners('SIGINT').includes(requestStop)) return;
  process.on('SIGINT', requestStop);
  process.on('SIGTERM', requestStop);
}

/**
 * Call `tick` every second until --duration seconds passed or Ctrl-C; then
 * `done`, which also runs when a tick throws (the error is reported, exit 1).
 */
export function everySecond(duration: number | undefined, tick: () => void, done: () => void): void {
  const started = Date.now();
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    // from now on a signal means "stop waiting for the cleanup": exit at once
    onStop = undefined;
    stopRequested = true;
    clearInterval(interval);
    done();
  };
  const interval = setInterval(() => {
    try {
      tick();
    } catch (error) {
      finish();
      report(error);
      process.exitCode = 1;
      return;
    }
    if (duration !== undefined && Date.now() - started >= duration * 1000 - 50) finish();
  }, 1000);
  onStop = finish;
  deferStopSignals();
  if (duration === 0 || stopRequested) setImmediate(finish);
}

/** `open()`'s result; when it throws, `owner` (what was loaded before it) is closed first. */
export function closingOnError<T>(owner: { close(): void }, open: () => T): T {
  try {
    return open();
  } catch (error) {
    owner.close();
    throw error;
  }
}

export function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

/** Errors of bpf-load already say what, where and why: print the message, not a stack. */
export function runSample(main: () => Promise<void>): void {
  // `sample | head`: once the reader is gone, stop as Ctrl-C would (cleanup included), exit 0
  let outputClosed = false;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (outputClosed) return;
    if (error.code !== 'EPIPE') throw error;
    outputClosed = true;
    process.exitCode = 0;
    if (onStop) onStop();
    else stopRequested = true;
  });
  main().catch((error: unknown) => {
    report(error);
    process.exit(1);
  });
}

function report(error: unknown): void {
  console.error(isBpfLoadError(error) ? error.message : error);
}
