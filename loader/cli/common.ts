import { readFileSync } from 'node:fs';

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /**
   * Write `text` as it is (no newline added) and resolve once the output can
   * take more: true, or false when it failed or closed. Commands that print
   * as they go use it for backpressure; without it they use out().
   */
  write?(text: string): Promise<boolean>;
  /**
   * Call `listener` once stdout is closed or fails (the reader of a pipe
   * exited, as `| head` does): a command that waits for something else
   * (events) stops then, instead of at its next write.
   */
  onOutputClosed?(listener: () => void): void;
}

export const EXIT_OK = 0;
/** the kernel refused (a syscall failed) */
export const EXIT_KERNEL = 1;
/** bad input file or bad usage */
export const EXIT_USAGE = 2;
/** a bug in bpf-load (sysexits.h EX_SOFTWARE): the error is not one bpf-load raises on purpose */
export const EXIT_INTERNAL = 70;

export const PROGRAM_NAME = 'load-kern-object';

/**
 * The version in bpf-load's package.json: the nearest one above this module
 * named bpf-load (dist/loader/cli/ unbundled, dist/ in the bundled executable).
 */
export function packageVersion(): string {
  for (let url = new URL('./', import.meta.url); url.pathname !== '/'; url = new URL('../', url)) {
    try {
      const manifest = JSON.parse(readFileSync(new URL('package.json', url), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'bpf-load') return typeof manifest.version === 'string' ? manifest.version : 'unknown';
    } catch {
      // no package.json here: look further up
    }
  }
  return 'unknown';
}

/** A usage error as one line, pointing at --help; exit status 2. */
export function reportUsageError(message: string, scriptName: string, io: CliIo): number {
  io.err(`${scriptName}: ${message.replace(/\s*\n\s*/g, ' ')} (see ${scriptName} --help)`);
  return EXIT_USAGE;
}

