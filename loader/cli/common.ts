import { readFileSync } from 'node:fs';
import { errorCategory, isBpfLoadError } from '../errors.js';

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

/**
 * Report a failure of a command and give its exit status. An error bpf-load
 * raises on purpose is one line (the stack with --verbose); anything else is
 * a bug, shown whole.
 */
export function reportCliError(error: unknown, scriptName: string, verbose: boolean, io: CliIo): number {
  if (!isBpfLoadError(error)) {
    io.err(`${scriptName}: internal error (a bug in bpf-load; please report it): ${(error as Error)?.stack ?? String(error)}`);
    return EXIT_INTERNAL;
  }
  const log = (error as { verifierLog?: string }).verifierLog;
  if (!verbose) {
    io.err(`${scriptName}: ${oneLine(error.message, log)}`);
  } else if (log) {
    // the message carries the log's tail; the whole log follows, so print it once
    const frames = (error.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
    io.err(`${scriptName}: ${error.message.split('\n')[0]}\n${frames.join('\n')}`);
    io.err(`-- BEGIN PROG LOAD LOG --\n${log}\n-- END PROG LOAD LOG --`);
  } else {
    io.err(`${scriptName}: ${error.stack ?? error.message}`);
  }
  return exitCodeFor(error);
}

/**
 * Errors are one line without --verbose. A verifier refusal carries its log
 * tail in the message: keep the line that says why (the last one before the
 * "processed N insns" summary) and point at --verbose for the rest.
 */
export function oneLine(message: string, verifierLog?: string): string {
  const [first = '', ...rest] = message.split('\n');
  if (rest.length === 0) return first;
  const logLines = (verifierLog ?? '').split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const reason = logLines.filter((l) => !l.startsWith('processed ') && !l.startsWith('verification time')).pop();
  return `${first}${reason ? `: verifier: ${reason}` : ''} (--verbose for the whole ${verifierLog ? 'verifier log' : 'message'})`;
}

/** The exit status for an error's category: 2 for what is wrong with the input, 1 for what the kernel refused, 70 for a bug. */
export function exitCodeFor(error: unknown): number {
  switch (errorCategory(error)) {
    case 'input':
      return EXIT_USAGE;
    case 'kernel':
      return EXIT_KERNEL;
    default:
      return EXIT_INTERNAL;
  }
}
