import { EXIT_OK, reportCliError, reportUsageError, type CliIo } from './common.js';
import { COMMANDS } from './commands.js';
import { parseCommandLine, scriptNameOf } from './parser.js';
import { guardRealOutput, realIo } from './realIo.js';
import { SignalWatch } from './signals.js';

/** Parse argv with yargs and run the command it names; resolves to the exit status. Never calls process.exit. */
export async function main(argv: string[], io: CliIo = realIo, watch?: SignalWatch): Promise<number> {
  const signals = watch ?? new SignalWatch();
  try {
    if (io === realIo) guardRealOutput();
    const parsed = parseCommandLine(COMMANDS, argv);
    if ('error' in parsed) return reportUsageError(parsed.error.message, parsed.scriptName, io);
    if ('output' in parsed) {
      io.out(parsed.output);
      return EXIT_OK;
    }
    try {
      return await parsed.command.run(parsed.args, { io, signals });
    } catch (error) {
      return reportCliError(error, scriptNameOf(parsed.command), parsed.args.verbose === true, io);
    }
  } finally {
    signals.dispose();
  }
}

export { EXIT_KERNEL, EXIT_OK, EXIT_USAGE, exitCodeFor, oneLine, type CliIo } from './common.js';
