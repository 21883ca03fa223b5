import { baseOptions, codecOption, type CliCommand } from './command.js';
import type { DumpArgs } from './dump.js';
import { CODEC_NAMES } from './loadOptions.js';

/** `load-kern-object dump PIN`: print a pinned map. */
export const dumpCommand: CliCommand = {
  name: 'dump',
  command: 'dump <pin>',
  describe: 'print the entries of a pinned map (decoded by its BTF types, with --key/--value, or hex)',
  usage:
    '$0 dump PIN [options]\n\nPrint the entries of the map pinned at PIN (BPF_OBJ_GET, read-only). A map created with ' +
      'BTF key and value types shows them decoded as bpftool\'s "formatted" output does (structs as objects, enums by ' +
      'name, char arrays as strings); a global-data map (.bss, .data, .rodata) shows its variables by name. A codec ' +
      'given with --key/--value decodes that side instead; anything else is hex. A per-CPU map shows one value per ' +
      'possible CPU; a queue or stack map the next value, without popping it.',
  builder: (yargs) =>
    yargs
      .positional('pin', { type: 'string', describe: 'pinned map path' })
      .options({
        ...baseOptions('print one JSON object'),
        key: { type: 'string', requiresArg: true, coerce: codecOption(CODEC_NAMES), describe: `decode keys as: ${CODEC_NAMES.join(', ')}` },
        value: { type: 'string', requiresArg: true, coerce: codecOption(CODEC_NAMES), describe: `decode values (per CPU for per-CPU maps) as: ${CODEC_NAMES.join(', ')}` },
        hex: { type: 'boolean', default: false, describe: 'not by BTF: keys and values in hex (or by --key/--value), even where the map has BTF types' },
      })
      .example('$0 dump /sys/fs/bpf/app/maps/flows --key u32 --value u64', 'keys and counters in decimal')
      .example('$0 dump /sys/fs/bpf/app/maps/app_bss --json', 'the variables of a .bss map by name'),
  run: async (args, context) => (await import('./dump.js')).runDump(args as unknown as DumpArgs, context),
};
