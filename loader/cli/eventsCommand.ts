import { baseOptions, codecOption, checkWith, type CliCommand } from './command.js';
import type { EventsArgs } from './events.js';
import { CODEC_NAMES, CONVENTION_OPTIONS, PIN_OPTIONS, PROGRAM_OPTIONS, VARIABLE_OPTIONS, durationOption } from './loadOptions.js';

/** `load-kern-object events FILE --map NAME`: load, attach, print the records the programs send. */
export const eventsCommand: CliCommand = {
  name: 'events',
  command: 'events <file>',
  describe: 'load and attach FILE, then print each record its programs send through a perf_event_array or ringbuf map',
  usage:
    '$0 events FILE --map NAME [options]\n\nLoad FILE (with the load options of the default command), attach its ' +
      'programs the way their section names say (as --attach does), and print each record they send through the map ' +
      'NAME, a perf_event_array (bpf_perf_event_output) or a ringbuf (bpf_ringbuf_output), as it comes: hex, ' +
      'decoded with --value, or as a type of the object\'s BTF with --btf-type (\'struct event\': structs as objects, ' +
      'enums by name, char arrays as strings, as bpftool prints BTF-typed values). Ctrl-C, --duration or a reader that stops reading (| head) ends it and detaches; the ' +
      'count of records (and of records the kernel lost because the ring was full) goes to stderr.',
  builder: (yargs) =>
    yargs
      .positional('file', { type: 'string', describe: 'the object file' })
      .options({
        ...baseOptions('one JSON object per record and line'),
        map: { type: 'string', demandOption: true, requiresArg: true, describe: 'the perf_event_array or ringbuf map to read' },
        value: {
          type: 'string',
          requiresArg: true,
          coerce: codecOption(CODEC_NAMES),
          describe: `decode each record (its first bytes, for a fixed-size codec) instead of printing hex: ${CODEC_NAMES.join(', ')}`,
        },
        'btf-type': {
          type: 'string',
          requiresArg: true,
          conflicts: 'value',
          describe: 'decode each record as this type of the object\'s BTF (clang -g): \'struct event\', \'union u\', \'enum e\' or a typedef name',
        },
        duration: durationOption('stop after this many seconds'),
        ...CONVENTION_OPTIONS,
        ...PROGRAM_OPTIONS,
        ...PIN_OPTIONS,
        ...VARIABLE_OPTIONS,
      })
      .check(checkWith((args) => {
        if (args['bpffs'] !== undefined && args['convention'] !== 'tc') return '--bpffs needs --convention tc';
        if (args['force'] && args['pin'] === undefined && args['convention'] !== 'tc') return '--force needs --pin DIR or --convention tc';
        return undefined;
      }))
      .example('$0 events trace_output_kern.o --map my_map --duration 5', 'five seconds of records in hex')
      .example('$0 events x_kern.o --map events --value u64 | head -3', 'the first three records as numbers')
      .example("$0 events bootstrap.bpf.o --map rb --btf-type 'struct event' --json", 'each record as a JSON object by member name'),
  run: async (args, context) => (await import('./events.js')).runEvents(args as unknown as EventsArgs, context),
};
