import { SyscallError } from '../../syscall/index.js';
import { loadBpfObject, readObjectSpec } from '../load/loadBpfFile.js';
import type { ObjectSpec } from '../../elf/index.js';
import { LoadError } from '../errors.js';
import {
  EXIT_OK, PROGRAM_NAME, baseOptions, parseCommandLine, reportCliError, reportUsageError, type CliIo,
} from './common.js';
import { guardRealOutput, realIo } from './realIo.js';
import type { CommandSpec } from './args.js';
import { resolve } from 'node:path';
import { SignalWatch, exitStatusForSignal } from './signals.js';
import { mapRowsFromObject, mapRowsFromSpec, renderMapTable, type MapRow } from './mapTable.js';
import type { LoadObjectOptions } from '../options.js';
import {
  PIN_LOAD_OPTIONS, PIN_SUBCOMMANDS_HELP, isPinSubcommand, pinLoadOptions, pinNote, runPinSubcommand, type PinLoadArgs,
} from './pinCommands.js';
import { EVENTS_SUBCOMMAND_HELP, isEventsSubcommand, runEventsSubcommand } from './events.js';
import {
  PROGRAM_LOAD_OPTIONS, programLoadOptions, programRowsFromObject, programRowsFromSpec, renderProgramTable,
  type ProgramArgs, type ProgramRow,
} from './programs.js';
import { TC_LOAD_OPTIONS, exportAttachAndHold, skippedSummary, tcLoadOptions, type TcArgs } from './tc.js';

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

Exit status: 0 loaded (with --attach: held, then detached on SIGINT, SIGTERM
or --duration); 1 the kernel refused (the message names the errno, e.g. EPERM:
run as root or with CAP_BPF); 2 bad input file or bad usage; 130 / 143 SIGINT /
SIGTERM before or during a load, which then completed or never started (its
pins are a complete set or none); 70 a bug in bpf-load.`;

const LOAD_COMMAND: CommandSpec = {
  scriptName: PROGRAM_NAME,
  usage: `$0 FILE [options]\n\n${DESCRIPTION}`,
  positional: { name: 'file', describe: 'the object file (xxx_kern.o)' },
  options: {
    ...baseOptions('print one JSON object instead of a table'),
    'dry-run': {
      type: 'boolean',
      default: false,
      describe: 'parse only: list maps (and programs) without any syscall; needs no privileges',
    },
    convention: {
      type: 'string',
      choices: ['samples', 'tc'],
      default: 'samples',
      describe: 'struct in the "maps" section: samples (bpf_map_def, 16-28+ bytes) or tc (iproute2 struct bpf_elf_map)',
    },
    ...PIN_LOAD_OPTIONS,
    ...PROGRAM_LOAD_OPTIONS,
    ...TC_LOAD_OPTIONS,
  },
  examples: [
    ['$0 fixtures/map_def28_kern.o', 'load and print the table of maps'],
    ['$0 --dry-run --json x_kern.o', 'what the object holds, as JSON, without privileges'],
  ],
  epilog: `${PIN_SUBCOMMANDS_HELP}\n\n${EVENTS_SUBCOMMAND_HELP}`,
};

interface CliArgs {
  file: string;
  json: boolean;
  dryRun: boolean;
  verbose: boolean;
  convention: 'samples' | 'tc';
}
type LoadArgs = CliArgs & PinLoadArgs & ProgramArgs & TcArgs;

/** Parse argv and run; resolves to the exit status. Never calls process.exit. */
export async function main(argv: string[], io: CliIo = realIo, watch?: SignalWatch): Promise<number> {
  const signals = watch ?? new SignalWatch();
  try {
    return await mainWatched(argv, io, signals);
  } finally {
    signals.dispose();
  }
}

async function mainWatched(argv: string[], io: CliIo, signals: SignalWatch): Promise<number> {
  if (io === realIo) guardRealOutput();
  if (isPinSubcommand(argv)) return runPinSubcommand(argv, io, signals);
  if (isEventsSubcommand(argv)) return runEventsSubcommand(argv, io, signals);
  const parsed = parseCommandLine<LoadArgs>(LOAD_COMMAND, argv, io);
  if ('exit' in parsed) return parsed.exit;
  const args = parsed.args;
  const usage = checkOptionCombinations(args);
  if (usage) return reportUsageError(usage, PROGRAM_NAME, io);
  try {
    return await run(args, io, signals);
  } catch (error) {
    return reportCliError(error, PROGRAM_NAME, args.verbose, io);
  }
}

/** Options that mean something only with another one: refused rather than silently ignored. */
function checkOptionCombinations(args: LoadArgs): string | undefined {
  if (args.programs !== undefined && programLoadOptions(args).programs === undefined) {
    return '--programs needs program names (function or section names), not an empty list';
  }
  if (args.pin === '') return '--pin needs a directory (on bpffs, e.g. /sys/fs/bpf/NAME), not an empty string';
  if (args.bpffs === '') return '--bpffs needs a directory, not an empty string';
  const holds = args.attach === true || (args.tc?.length ?? 0) > 0;
  if (args.duration !== undefined && !holds) return '--duration needs --attach or --tc (it says how long to stay attached)';
  if (args.bpffs !== undefined && args.convention !== 'tc') {
    return '--bpffs needs --convention tc (it says where tc-style pins go; --pin DIR names the directory for the others)';
  }
  if (args.dryRun && (holds || args.pin !== undefined || args.export !== undefined)) {
    return '--dry-run loads nothing, so it cannot --attach, --tc, --pin or --export';
  }
  if (args.tcMode !== undefined && !(args.tc?.length)) return '--tc-mode needs --tc (it says how --tc attaches)';
  const pins = args.pin !== undefined || args.convention === 'tc';
  if (args.force && !pins) return '--force needs --pin DIR or --convention tc (it replaces existing pins)';
  return undefined;
}

async function run(args: LoadArgs, io: CliIo, signals: SignalWatch): Promise<number> {
  if (signals.received) return interrupted(signals.received, 'before anything was loaded', io);
  const programOptions = programLoadOptions(args);
  const spec = readObjectSpec(args.file, {
    convention: args.convention,
    ...(Array.isArray(programOptions.programs) ? { sections: programOptions.programs } : {}),
  });
  if (args.dryRun) {
    printObject(args, spec, mapRowsFromSpec(spec), programRowsFromSpec(spec, true), false, io);
    return EXIT_OK;
  }
  const options: LoadObjectOptions = {
    ...pinLoadOptions(args),
    ...programOptions,
    ...tcLoadOptions(args),
    onWarning: (message) => io.err(`warning: ${message}`),
  };
  if (signals.received) return interrupted(signals.received, 'before anything was loaded', io);
  const object = loadBpfObject(spec, options);
  try {
    // the load ran to its end (a signal cannot cut into it): what it pinned is a complete set
    if (signals.received) {
      return interrupted(signals.received, `after the load completed${args.pin !== undefined ? `; the pins in ${resolve(args.pin)} are complete` : ''}`, io);
    }
    printObject(args, spec, readBack(args.file, 'maps', () => mapRowsFromObject(object)), programRowsFromObject(object), true, io);
    if (args.verbose) {
      for (const program of object.programs) if (program.verifierLog) io.err(`-- verifier log of ${program.name} --\n${program.verifierLog}`);
    }
    await exportAttachAndHold(object, args, (text) => (args.json ? io.err(text) : io.out(text)), signals);
    const note = pinNote(args);
    if (note && !args.json) io.out(note);
  } finally {
    object.close();
  }
  return EXIT_OK;
}

/** The tables (or the JSON object) of what the object holds, then the summary of the sections it skipped. */
function printObject(args: LoadArgs, spec: ObjectSpec, maps: MapRow[], programs: ProgramRow[], loaded: boolean, io: CliIo): void {
  if (args.json) {
    const head = loaded ? { file: args.file } : { file: args.file, dry_run: true };
    io.out(JSON.stringify({ ...head, license: spec.license ?? null, maps, programs, skipped_sections: spec.skippedSections }, null, 2));
  } else {
    io.out(`${args.file}${loaded ? '' : ' (dry run: nothing loaded)'}\n${renderMapTable(maps, loaded)}\n${renderProgramTable(programs, loaded)}`);
  }
  const skipped = skippedSummary(spec);
  if (skipped) (args.json ? io.err : io.out)(skipped);
}

function interrupted(signal: NodeJS.Signals, when: string, io: CliIo): number {
  io.err(`${PROGRAM_NAME}: interrupted by ${signal} ${when}`);
  return exitStatusForSignal(signal);
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


export { EXIT_KERNEL, EXIT_OK, EXIT_USAGE, exitCodeFor, oneLine, type CliIo } from './common.js';
