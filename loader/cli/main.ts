import { EXIT_OK, reportUsageError, type CliIo } from './common.js';
import { COMMANDS } from './commands.js';
import { parseCommandLine, scriptNameOf } from './parser.js';
import { guardRealOutput, realIo } from './realIo.js';
import { SignalWatch } from './signals.js';

/**
 * Parse argv with yargs and run the command it names; resolves to the exit
 * status. Never calls process.exit. SIGINT and SIGTERM are watched from the
 * parse on (`watch`, or a watch of its own): no command has made anything
 * before, so until then the default action (exit 130 / 143) loses nothing.
 */
export async function main(argv: string[], io: CliIo = realIo, watch?: SignalWatch): Promise<number> {
  if (io === realIo) guardRealOutput();
  const parsed = parseCommandLine(COMMANDS, argv);
  if ('error' in parsed) {
    // yargs' failure in the project's error family: an ARGUMENT error, exit 2, with the command's hint
    const { LoadError } = await import('../errors.js');
    const error = new LoadError(parsed.message, {}, { code: 'BPF_LOAD_ARGUMENT', cause: parsed.error });
    watch?.dispose();
    return reportUsageError(error.message, parsed.scriptName, io);
  }
  if ('output' in parsed) {
    io.out(parsed.output);
    watch?.dispose();
    return EXIT_OK;
  }
  const signals = watch ?? new SignalWatch();
  try {
    return await parsed.command.run(parsed.args, { io, signals });
  } catch (error) {
    const { reportCliError } = await import('./report.js');
    return reportCliError(error, scriptNameOf(parsed.command), parsed.args.verbose === true, io);
  } finally {
    signals.dispose();
  }
}

export { EXIT_KERNEL, EXIT_OK, EXIT_USAGE, type CliIo } from './common.js';
