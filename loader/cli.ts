import yargs from 'yargs';
import { parseObject, ElfError, type ObjectSpec } from '../elf/index.js';
import { SyscallError } from '../syscall/index.js';
import { loadBpfObject } from './loadBpfFile.js';
import { readObjectFile } from './readObject.js';
import { LoadError, isBpfLoadError } from './errors.js';
import { mapRowsFromObject, mapRowsFromSpec, renderMapTable } from './cliFormat.js';
import type { LoadOptions } from './options.js';
import {
  PIN_LOAD_OPTIONS, PIN_SUBCOMMANDS_HELP, isPinSubcommand, pinLoadOptions, pinNote, runPinSubcommand, type PinLoadArgs,
} from './cliPin.js';
import { rememberObjectBytes } from './tcMaps.js';
import {
  PROGRAM_LOAD_OPTIONS, holdAttachments, programLoadOptions, programRowsFromObject, programRowsFromSpec, renderProgramTable,
  type ProgramArgs,
} from './cliPrograms.js';

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

const realIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

/**
 * A failed write to stdout (a full disk, a closed pipe) is emitted as an
 * 'error' event that would crash the process with a stack: make it one line
 * and exit status 1 instead. A reader that closed the pipe (| head) chose to
 * stop reading, so EPIPE is silent.
 */
function guardRealOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount('error') > 0) continue;
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && stream === process.stdout) {
        process.stderr.write(`load-kern-object: cannot write the output: ${error.code ?? error.message}\n`);
      }
      process.exitCode = EXIT_KERNEL;
    });
  }
}

const DESCRIPTION = `Load an eBPF object built the samples/bpf way (struct bpf_map_def SEC("maps"),
clang -O2 -target bpf -c x_kern.c) the way load_bpf_file() did: create its maps
in the order of their offsets in the "maps" section (map_fd[]), then relocate
and load its programs (prog_fd[]), and print what the kernel made.

Output: a table of the maps in map_fd[] order with their index (#), name,
type by name, key and value size, max_entries, map_flags, and once loaded the
fd this process held and the kernel map id (bpftool map show id ID). --json
prints the same as one object: {"file", "license", "maps": [{"index", "name",
"type", "key_size", "value_size", "max_entries", "map_flags", "offset", "fd",
"id"}]}; --dry-run leaves out fd and id.

The maps and programs live as long as this process: they are gone when the
command exits, unless you pin them to bpffs with --pin DIR.

Exit status: 0 loaded; 1 the kernel refused (the message names the errno,
e.g. EPERM: run as root or with CAP_BPF); 2 bad input file or bad usage.`;

interface CliArgs {
  file: string;
  json: boolean;
  dryRun: boolean;
  verbose: boolean;
  convention: 'samples' | 'tc';
}
type LoadArgs = CliArgs & PinLoadArgs & ProgramArgs;

/** Parse argv and run; resolves to the exit status. Never calls process.exit. */
export async function main(argv: string[], io: CliIo = realIo): Promise<number> {
  if (io === realIo) guardRealOutput();
  if (isPinSubcommand(argv)) return runPinSubcommand(argv, io);
  let helpOutput = '';
  let usageError: string | undefined;
  const parser = yargs(argv)
    .scriptName('load-kern-object')
    .usage(`$0 FILE [options]\n\n${DESCRIPTION}`)
    .command('$0 <file>', false, (y) =>
      y.positional('file', { type: 'string', describe: 'the object file (xxx_kern.o)', demandOption: true }),
    )
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object instead of a table' })
    .option('dry-run', {
      type: 'boolean',
      default: false,
      describe: 'parse only: list maps (and programs) without any syscall; needs no privileges',
    })
    .option('convention', {
      choices: ['samples', 'tc'] as const,
      default: 'samples' as const,
      describe: 'struct in the "maps" section: samples (bpf_map_def, 16-28+ bytes) or tc (iproute2 struct bpf_elf_map)',
    })
    .option('verbose', { type: 'boolean', default: false, describe: 'print the full stack of an error' })
    .options(PIN_LOAD_OPTIONS)
    .options(PROGRAM_LOAD_OPTIONS)
    .epilog(PIN_SUBCOMMANDS_HELP)
    .example('$0 fixtures/map_def28_kern.o', 'load and print the table of maps')
    .example('$0 --dry-run --json x_kern.o', 'what the object holds, as JSON, without privileges')
    .strict()
    .help()
    .version(false)
    .exitProcess(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((message, error) => {
      usageError = message ?? error?.message ?? 'bad usage';
    });

  let args: CliArgs | undefined;
  try {
    const parsed = await parser.parseAsync(argv, {}, (_err, _argv, output) => {
      helpOutput = output;
    });
    args = parsed as unknown as CliArgs;
  } catch (error) {
    usageError ??= (error as Error).message;
  }
  if (usageError) {
    // yargs spreads some messages ("Invalid values:") over lines: errors are one line
    io.err(`load-kern-object: ${usageError.replace(/\s*\n\s*/g, ' ')} (see load-kern-object --help)`);
    return EXIT_USAGE;
  }
  if (helpOutput) {
    io.out(helpOutput);
    return EXIT_OK;
  }
  try {
    return await run(args!, io);
  } catch (error) {
    return reportError(error, args!, io);
  }
}

async function run(args: CliArgs, io: CliIo): Promise<number> {
  const spec = await readSpec(args.file, args.convention);
  if (args.dryRun) {
    const maps = mapRowsFromSpec(spec);
    const programs = programRowsFromSpec(spec, true);
    if (args.json) io.out(JSON.stringify({ file: args.file, dry_run: true, license: spec.license ?? null, maps, programs }, null, 2));
    else io.out(`${args.file} (dry run: nothing loaded)\n${renderMapTable(maps, false)}\n${renderProgramTable(programs, false)}`);
    return EXIT_OK;
  }
  const options: LoadOptions = {
    convention: args.convention,
    ...pinLoadOptions(args as LoadArgs),
    ...programLoadOptions(args as LoadArgs),
    onWarning: (message) => io.err(`warning: ${message}`),
  };
  const object = loadBpfObject(spec, options);
  try {
    const maps = readBack(args.file, 'maps', () => mapRowsFromObject(object));
    const programs = programRowsFromObject(object);
    if (args.json) io.out(JSON.stringify({ file: args.file, license: spec.license ?? null, maps, programs }, null, 2));
    else io.out(`${args.file}\n${renderMapTable(maps, true)}\n${renderProgramTable(programs, true)}`);
    if (args.verbose) {
      for (const program of object.programs) if (program.verifierLog) io.err(`-- verifier log of ${program.name} --\n${program.verifierLog}`);
    }
    await holdAttachments(object, args as LoadArgs, (text) => (args.json ? io.err(text) : io.out(text)));
    const note = pinNote(args as LoadArgs);
    if (note && !args.json) io.out(note);
  } finally {
    object.close();
  }
  return EXIT_OK;
}

/** The table is the kernel's word (BPF_OBJ_GET_INFO_BY_FD): when it cannot be read, say for which file. */
function readBack<T>(file: string, what: string, read: () => T): T {
  try {
    return read();
  } catch (cause) {
    if (!(cause instanceof SyscallError)) throw cause;
    throw new LoadError(`loaded, but cannot read back the ${what} the kernel made`, { file }, { cause });
  }
}

async function readSpec(file: string, convention: 'samples' | 'tc'): Promise<ObjectSpec> {
  const bytes = await readObjectFile(file);
  const spec = parseObject(bytes, { file, convention });
  rememberObjectBytes(spec, bytes);
  return spec;
}

function reportError(error: unknown, args: CliArgs, io: CliIo): number {
  if (!isBpfLoadError(error)) {
    // not an error we raise on purpose: a bug, so show everything
    io.err(`load-kern-object: internal error: ${(error as Error)?.stack ?? String(error)}`);
    return EXIT_KERNEL;
  }
  const log = (error as { verifierLog?: string }).verifierLog;
  io.err(`load-kern-object: ${args.verbose ? (error.stack ?? error.message) : oneLine(error.message, log)}`);
  if (log && args.verbose) io.err(`-- BEGIN PROG LOAD LOG --\n${log}\n-- END PROG LOAD LOG --`);
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

/** 2 for what is wrong with the input, 1 for what the kernel refused. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof ElfError) return EXIT_USAGE;
  if (error instanceof LoadError && error.errno === undefined) {
    // a LoadError without errno is a problem found in the object or the arguments
    return EXIT_USAGE;
  }
  return EXIT_KERNEL;
}
