import { BPF_MAP_TYPE } from '../../syscall/index.js';
import { loadBpfFile } from '../load/loadBpfFile.js';
import { openPerfEventReader, type PerfRecord } from '../events/perfReader.js';
import { openRingBufferReader, type RingBufferRecord } from '../events/ringBufferReader.js';
import type { EventReader } from '../events/waiting.js';
import { MapError } from '../errors.js';
import type { CommandSpec } from './args.js';
import { exitStatusForSignal, type SignalWatch } from './signals.js';
import { EXIT_OK, PROGRAM_NAME, baseOptions, parseCommandLine, reportCliError, type CliIo } from './common.js';
import { spacedHex } from './pinCommands.js';
import { PROGRAM_LOAD_OPTIONS, describeAttachments } from './programs.js';

/**
 * `load-kern-object events FILE --map NAME`: load the object, attach what its
 * section names say, and print the records its programs send through a
 * perf event array or a ring buffer until Ctrl-C or --duration.
 */

export const EVENTS_SUBCOMMAND_HELP = `Events:
  load-kern-object events FILE --map NAME [--json] [--duration N]
      load and attach FILE, then print every record its programs send through the
      perf_event_array or ringbuf map NAME (hex, or --json one object per line)`;

export function isEventsSubcommand(argv: readonly string[]): boolean {
  return argv[0] === 'events';
}

interface EventsArgs {
  file: string;
  map: string;
  json: boolean;
  verbose: boolean;
  duration?: number;
}

type AnyRecord = PerfRecord | RingBufferRecord;

/** Resolves to the exit status once the reading ended (signal, --duration) and everything was closed. */
export async function runEventsSubcommand(argv: readonly string[], io: CliIo, signals: SignalWatch): Promise<number> {
  const scriptName = `${PROGRAM_NAME} events`;
  const spec: CommandSpec = {
    scriptName,
    usage:
      '$0 FILE --map NAME [options]\n\nLoad FILE, attach its programs the way their section names say (as --attach ' +
      'does), and print each record they send through the map NAME, a perf_event_array (bpf_perf_event_output) or a ' +
      'ringbuf (bpf_ringbuf_output), as it comes. Ctrl-C or --duration ends it; the count of records (and of records ' +
      'the kernel lost because the ring was full) goes to stderr.',
    positional: { name: 'file', describe: 'the object file' },
    options: {
      ...baseOptions('one JSON object per record and line'),
      map: { type: 'string', demandOption: true, requiresArg: true, describe: 'the perf_event_array or ringbuf map to read' },
      duration: { ...PROGRAM_LOAD_OPTIONS.duration, describe: 'stop after this many seconds' },
    },
    epilog: `Example, five seconds of records in hex:\n  ${scriptName} trace_output_kern.o --map my_map --duration 5`,
  };
  const parsed = parseCommandLine<EventsArgs>(spec, argv.slice(1), io);
  if ('exit' in parsed) return parsed.exit;
  const args = parsed.args;
  try {
    if (signals.received) return exitStatusForSignal(signals.received);
    await readEvents(args, io, signals);
    return EXIT_OK;
  } catch (error) {
    return reportCliError(error, scriptName, args.verbose, io);
  }
}

async function readEvents(args: EventsArgs, io: CliIo, signals: SignalWatch): Promise<void> {
  using object = await loadBpfFile(args.file, { attach: true, onWarning: (message) => io.err(`warning: ${message}`) });
  const map = object.map(args.map);
  let reader: EventReader<PerfRecord> | EventReader<RingBufferRecord>;
  if (map.type === BPF_MAP_TYPE.PERF_EVENT_ARRAY) reader = openPerfEventReader(map);
  else if (map.type === BPF_MAP_TYPE.RINGBUF) reader = openRingBufferReader(map);
  else {
    throw new MapError(map.name, `events reads perf_event_array and ringbuf maps, not ${map.typeName}`, { code: 'BPF_LOAD_ARGUMENT' });
  }
  using _reader = reader;
  // a signal that came during the load, one that comes later, or --duration: the pending read resolves empty
  void signals.wait(args.duration).then(() => reader.close());
  const attached = describeAttachments(object.attachments) || 'nothing';
  io.err(`reading map '${map.name}' (${map.typeName}); attached: ${attached}; ${args.duration !== undefined ? `for ${args.duration} s` : 'Ctrl-C to stop'}`);
  let records = 0;
  let lost = 0;
  // the pending read keeps the process alive until close() resolves it (`using` closes the reader on every way out)
  for (let batch: AnyRecord[] = await reader.readBatch(256); batch.length > 0; batch = await reader.readBatch(256)) {
    const lines: string[] = [];
    for (const record of batch) {
      if ('lost' in record && record.lost) lost += record.lost;
      else records++;
      lines.push(args.json ? JSON.stringify(jsonOf(record)) : textOf(record));
    }
    io.out(lines.join('\n'));
  }
  io.err(`${records} records, ${lost} lost`);
}

function textOf(record: AnyRecord): string {
  if (!('cpu' in record)) return spacedHex(record.data);
  return `cpu ${record.cpu}: ${record.lost ? `lost ${record.lost} records` : spacedHex(record.data)}`;
}

function jsonOf(record: AnyRecord): Record<string, unknown> {
  const cpu = 'cpu' in record ? { cpu: record.cpu } : {};
  if ('lost' in record && record.lost) return { ...cpu, lost: record.lost };
  return { ...cpu, size: record.data.length, data: record.data.toString('hex') };
}
