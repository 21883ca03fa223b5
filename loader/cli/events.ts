import { BPF_MAP_TYPE } from '../../syscall/index.js';
import { loadBpfFile } from '../load/loadBpfFile.js';
import { openPerfEventReader, type PerfRecord } from '../events/perfReader.js';
import { openRingBufferReader, type RingBufferRecord } from '../events/ringBufferReader.js';
import type { EventReader } from '../events/waiting.js';
import { codecByName, type Codec } from '../maps/codecs.js';
import { LoadError, MapError } from '../errors.js';
import type { CliContext } from './command.js';
import { exitStatusForSignal } from './signals.js';
import { EXIT_OK } from './common.js';
import { LineWriter } from './output.js';
import { spacedHex, pinLoadOptions, checkPersistentBpffs } from './pinCommands.js';
import { describeAttachments, programLoadOptions } from './programs.js';
import { tcLoadOptions } from './tc.js';
import type { LoadArgs } from './loadOptions.js';

/**
 * `load-kern-object events FILE --map NAME`: load the object, attach what its
 * section names say, and print the records its programs send through a
 * perf event array or a ring buffer until Ctrl-C, --duration, or the reader
 * of the output goes away.
 */

export interface EventsArgs extends Pick<LoadArgs, 'file' | 'json' | 'verbose' | 'convention' | 'pin' | 'force' | 'reusePinned' | 'bpffs' | 'programs' | 'type' | 'logLevel' | 'btf'> {
  map: string;
  value?: string;
  duration?: number;
}

/** Resolves to the exit status once the reading ended and everything was closed (detached). */
export async function runEvents(args: EventsArgs, { io, signals }: CliContext): Promise<number> {
  if (signals.received) return exitStatusForSignal(signals.received);
  if (args.pin !== undefined) checkPersistentBpffs(args.pin);
  using object = await loadBpfFile(args.file, {
    convention: args.convention,
    ...pinLoadOptions(args),
    ...programLoadOptions({ ...args, attach: true }),
    ...tcLoadOptions(args),
    onWarning: (message) => io.err(`warning: ${message}`),
  });
  const map = object.map(args.map);
  let reader: EventReader<PerfRecord> | EventReader<RingBufferRecord>;
  if (map.type === BPF_MAP_TYPE.PERF_EVENT_ARRAY) reader = openPerfEventReader(map);
  else if (map.type === BPF_MAP_TYPE.RINGBUF) reader = openRingBufferReader(map);
  else {
    throw new MapError(map.name, `events reads perf_event_array and ringbuf maps, not ${map.typeName}`, { code: 'BPF_LOAD_ARGUMENT' });
  }
  using _reader = reader;
  let outputClosed = false;
  // a signal that came during the load, one that comes later, --duration, or a closed output: the pending read resolves empty
  void signals.wait(args.duration).then(() => reader.close());
  io.onOutputClosed?.(() => {
    outputClosed = true;
    reader.close();
  });
  const attached = describeAttachments(object.attachments) || 'nothing';
  io.err(`reading map '${map.name}' (${map.typeName}); attached: ${attached}; ${args.duration !== undefined ? `for ${args.duration} s` : 'Ctrl-C to stop'}`);
  const decode = recordDecoder(args.value);
  const out = new LineWriter(io);
  let records = 0;
  let lost = 0;
  // the pending read keeps the process alive until close() resolves it (`using` closes the reader on every way out)
  for (let batch: AnyRecord[] = await reader.readBatch(256); batch.length > 0 && out.ok; batch = await reader.readBatch(256)) {
    for (const record of batch) {
      if ('lost' in record && record.lost) lost += record.lost;
      else records++;
      out.line(args.json ? JSON.stringify(jsonOf(record, decode)) : textOf(record, decode));
    }
    await out.flush();
  }
  const why = !out.ok || outputClosed ? '; the output was closed, so it stopped reading and detached' : '';
  io.err(`${records} records, ${lost} lost${why}`);
  return EXIT_OK;
}

/** --value: a record's first bytes as the codec reads them (a record is padded to 8 bytes in a perf buffer). */
type Decoder = ((data: Buffer) => unknown) | undefined;

function recordDecoder(name: string | undefined): Decoder {
  if (name === undefined) return undefined;
  const fixed = codecByName(name);
  return (data) => {
    const codec: Codec<unknown> | undefined = fixed ?? codecByName(name, data.length);
    if (!codec || data.length < codec.size) {
      throw new LoadError(`a record of ${data.length} bytes is too short for --value ${name} (${codec?.size ?? '?'} bytes)`, {}, { code: 'BPF_LOAD_ARGUMENT' });
    }
    return codec.decode(data, new DataView(data.buffer, data.byteOffset, data.byteLength), 0);
  };
}

type AnyRecord = PerfRecord | RingBufferRecord;

function show(value: unknown): string {
  if (value instanceof Uint8Array) return spacedHex(value);
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function textOf(record: AnyRecord, decode: Decoder): string {
  const data = (): string => (decode ? show(decode(record.data)) : spacedHex(record.data));
  if (!('cpu' in record)) return data();
  return `cpu ${record.cpu}: ${record.lost ? `lost ${record.lost} records` : data()}`;
}

function jsonOf(record: AnyRecord, decode: Decoder): Record<string, unknown> {
  const cpu = 'cpu' in record ? { cpu: record.cpu } : {};
  if ('lost' in record && record.lost) return { ...cpu, lost: record.lost };
  const value = decode ? decode(record.data) : undefined;
  return {
    ...cpu,
    size: record.data.length,
    data: record.data.toString('hex'),
    ...(decode ? { value: value instanceof Uint8Array ? Buffer.from(value).toString('hex') : typeof value === 'bigint' ? value.toString() : value } : {}),
  };
}
