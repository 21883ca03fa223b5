import { readFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { errorCategory, isBpfLoadError } from '../errors.js';

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const EXIT_OK = 0;
/** the kernel refused (a syscall failed) */
export const EXIT_KERNEL = 1;
/** bad input file or bad usage */
export const EXIT_USAGE = 2;
/** a bug in bpf-load (sysexits.h EX_SOFTWARE): the error is not one bpf-load raises on purpose */
export const EXIT_INTERNAL = 70;

export const PROGRAM_NAME = 'load-kern-object';

/** The version in bpf-load's package.json (three folders up from dist/loader/cli/). */
export function packageVersion(): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * A yargs parser with what every load-kern-object command shares: --json,
 * --verbose, strict options, help captured rather than printed, no
 * process.exit. The caller adds usage, positionals and its own options.
 */
export function baseParser(argv: readonly string[], scriptName: string, jsonHelp: string): Argv {
  return yargs([...argv])
    .scriptName(scriptName)
    .option('json', { type: 'boolean', default: false, describe: jsonHelp })
    .option('verbose', { type: 'boolean', default: false, describe: 'print the full stack of an error' })
    .strict()
    .help()
    .version('version', 'print the version of bpf-load and exit', packageVersion())
    .exitProcess(false)
    .wrap(Math.min(110, process.stdout.columns || 100));
}

/**
 * Parse with a parser from baseParser(). Returns the arguments, or the exit
 * status when there is nothing more to do: --help printed (0), or a usage
 * error reported as one line (2).
 */
export async function parseCommandLine<T>(
  parser: Argv,
  argv: readonly string[],
  scriptName: string,
  io: CliIo,
): Promise<{ args: T } | { exit: number }> {
  let helpOutput = '';
  let usageError: string | undefined;
  parser.fail((message, error) => {
    usageError = message ?? error?.message ?? 'bad usage';
  });
  let args: T | undefined;
  try {
    args = (await parser.parseAsync([...argv], {}, (_err, _argv, output) => {
      helpOutput = output;
    })) as unknown as T;
  } catch (error) {
    usageError ??= (error as Error).message;
  }
  if (usageError) return { exit: reportUsageError(usageError, scriptName, io) };
  if (helpOutput) {
    io.out(helpOutput);
    return { exit: EXIT_OK };
  }
  return { args: args! };
}

/** A usage error as one line (yargs spreads some messages, "Invalid values:", over lines); exit status 2. */
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
