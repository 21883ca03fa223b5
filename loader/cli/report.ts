import { errorCategory, isBpfLoadError } from '../errors.js';
import { EXIT_INTERNAL, EXIT_KERNEL, EXIT_USAGE, type CliIo } from './common.js';

// What a failed command says and the exit status it gets. Loaded once a command has failed (or
// runs): the error family it reads is more than --help and a usage error need at start-up.

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
