import { baseOptions, codecOption, type CliCommand } from './command.js';
import type { DumpArgs } from './pinCommands.js';
import { CODEC_NAMES } from './loadOptions.js';

/** `load-kern-object dump PIN`: print a pinned map. */
export const dumpCommand: CliCommand = {
  name: 'dump',
  command: 'dump <pin>',
  describe: 'print the entries of a pinned map (hex, or decoded with --key/--value)',
  usage:
    '$0 dump PIN [options]\n\nPrint the entries of the map pinned at PIN (BPF_OBJ_GET, read-only). Keys and values are ' +
      'hex unless a codec is given; a per-CPU map shows one value per possible CPU; a queue or stack map the next ' +
      'value, without popping it.',
  builder: (yargs) =>
    yargs
      .positional('pin', { type: 'string', describe: 'pinned map path' })
      .options({
        ...baseOptions('print one JSON object'),
        key: { type: 'string', requiresArg: true, coerce: codecOption(CODEC_NAMES), describe: `decode keys as: ${CODEC_NAMES.join(', ')}` },
        value: { type: 'string', requiresArg: true, coerce: codecOption(CODEC_NAMES), describe: `decode values (per CPU for per-CPU maps) as: ${CODEC_NAMES.join(', ')}` },
      })
      .example('$0 dump /sys/fs/bpf/app/maps/flows --key u32 --value u64', 'keys and counters in decimal'),
  run: async (args, context) => (await import('./pinCommands.js')).runDump(args as unknown as DumpArgs, context),
};
