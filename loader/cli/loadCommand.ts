import { baseOptions, checkWith, type CliArgs, type CliCommand } from './command.js';
import { ATTACH_OPTIONS, CONVENTION_OPTIONS, PIN_OPTIONS, PROGRAM_OPTIONS, TC_OPTIONS, VARIABLE_OPTIONS, type LoadArgs } from './loadOptions.js';

const DESCRIPTION = `Load an eBPF object built the samples/bpf way (struct bpf_map_def SEC("maps"),
clang -O2 -target bpf -c x_kern.c) the way load_bpf_file() did: create its maps
in the order of their offsets in the "maps" section (map_fd[]), then relocate
and load its programs (prog_fd[]), and print what the kernel made.

Output: a table of the maps in map_fd[] order with their index (#), name,
type by name, key and value size, max_entries, map_flags, and once loaded the
fd this process held and the kernel map id (bpftool map show id ID). --json
prints the same as one object: {"file", "license", "maps": [{"index", "name",
"type", "key_size", "value_size", "max_entries", "map_flags", "offset", "fd",
"id"}]}; --dry-run leaves out fd and id. A map with BTF key and value types
has them in "key_type" and "value_type"; an object with global variables gets
a table of them with their values ("variables" in --json). --core adds what
CO-RE did to each program's relocations (with --dry-run: would do, on this
kernel's BTF or --btf FILE).

The maps and programs live as long as this process: they are gone when the
command exits, unless you pin them to bpffs with --pin DIR.

Exit status: 0 loaded (with --attach: held, then detached on SIGINT, SIGTERM
or --duration); 1 the kernel or the system refused (the message names the
errno, e.g. EPERM: run as root or with CAP_BPF); 2 bad input file or bad usage;
130 / 143 SIGINT / SIGTERM before or during a load, which then completed or
never started (its pins are a complete set or none); 70 a bug in bpf-load.`;

/** Options that mean something only with another one: refused rather than silently ignored. */
function checkOptionCombinations(args: LoadArgs): string | undefined {
  if (args.programs !== undefined && args.programs.length === 0) {
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

/** `load-kern-object FILE`: the default command. */
export const loadCommand: CliCommand = {
  name: undefined,
  command: '$0 <file>',
  describe: 'load FILE and print its maps and programs (the default command)',
  usage: `$0 FILE [options]\n\n${DESCRIPTION}`,
  builder: (yargs) =>
    yargs
      .positional('file', { type: 'string', describe: 'the object file (xxx_kern.o)' })
      .options({
        ...baseOptions('print one JSON object instead of a table'),
        'dry-run': {
          type: 'boolean',
          default: false,
          describe: 'parse only: list maps (and programs, or those --programs names) without any syscall; needs no privileges',
        },
        core: {
          type: 'boolean',
          default: false,
          describe:
            "after the tables, one per program of its CO-RE relocations: instruction, kind, local type and access string, the kernel's " +
            'type it matched, old -> new value or "poisoned" (with --json, a "core" array in each program); with --dry-run, ' +
            "calculated against the kernel's BTF (or --btf FILE) without loading",
        },
        ...CONVENTION_OPTIONS,
        ...PIN_OPTIONS,
        ...PROGRAM_OPTIONS,
        ...VARIABLE_OPTIONS,
        ...ATTACH_OPTIONS,
        ...TC_OPTIONS,
      })
      .check(checkWith((args) => checkOptionCombinations(args as unknown as LoadArgs)))
      .example('$0 fixtures/map_def28_kern.o', 'load and print the table of maps')
      .example('$0 minimal.bpf.o --set target_pid=1234 --attach', 'set a const volatile variable, load and hold attached')
      .example('$0 --dry-run --json x_kern.o', 'what the object holds, as JSON, without privileges')
      .example('$0 bootstrap.bpf.o --dry-run --core', "the CO-RE relocations of each program against this kernel's BTF")
      .example('$0 x_kern.o --programs prog_a,prog_b --attach', 'load two of its programs and hold them attached until Ctrl-C')
      .example('$0 dump /sys/fs/bpf/app/maps/counts --key u32 --value u64', 'print a pinned map')
      .example('$0 completion >> ~/.bashrc', 'complete commands and options in bash'),
  run: async (args: CliArgs, context) => (await import('./loadRun.js')).runLoad(args as unknown as LoadArgs, context),
};
