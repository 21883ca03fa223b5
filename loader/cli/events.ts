import { BPF_MAP_TYPE } from '../../syscall/index.js';
import { loadBpfObject, readObjectSpec } from '../load/loadBpfFile.js';
import { localBtfOf } from '../load/coreStep.js';
import type { Btf } from '../../elf/btf/index.js';
import { btfFormatted, formattedJson, type Formatted } from '../maps/btfFormat.js';
import { typeName } from '../maps/btfCodec.js';
import { sizeOf } from '../../elf/btf/index.js';
import { findNamedType } from '../maps/btfNamedType.js';
import { cliVariables } from './variables.js';
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
import { describeAttachments, programLoadOptions, selectedPrograms } from './programs.js';
import { tcLoadOptions } from './tc.js';
import type { LoadArgs } from './loadOptions.js';

/**
 * `load-kern-object events FILE --map NAME`: load the object, attach what its
 * section names say, and print the records its programs send through a
 * perf event array or a ring buffer until Ctrl-C, --duration, or the reader
 * of the output goes away.
 */

export interface EventsArgs extends Pick<LoadArgs, 'file' | 'json' | 'verbose' | 'convention' | 'pin' | 'force' | 'reusePinned' | 'bpffs' | 'programs' | 'type' | 'logLevel' | 'btf' | 'set' | 'pinRoot'> {
  map: string;
  value?: string;
  /** a type of the object's BTF to decode each record as: `struct event` */
  btfType?: string;
  duration?: number;
}

/** Resolves to the exit status once the reading ended and everything was closed (detached). */
export async function runEvents(args: EventsArgs, { io, signals }: CliContext): Promise<number> {
  if (signals.received) return exitStatusForSignal(signals.received);
  if (args.pin !== undefined) checkPersistentBpffs(args.pin);
  const programOptions = programLoadOptions({ ...args, attach: true });
  const spec = readObjectSpec(args.file, {
    convention: args.convention,
    ...(Array.isArray(programOptions.programs) ? { sections: programOptions.programs } : {}),
  });
  selectedPrograms(spec, args);
  // what the record type names is checked before anything is loaded
  const decode = args.btfType !== undefined ? btfRecordDecoder(spec.btf ? localBtfOf(spec) : undefined, args.btfType) : recordDecoder(args.value);
  using object = loadBpfObject(spec, {
    ...pinLoadOptions(args),
    ...(args.set?.length ? { variables: cliVariables(spec, args.set) } : {}),
    ...(args.pinRoot !== undefined ? { pinning: { root: args.pinRoot } } : {}),
    ...programOptions,
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
  const out = new LineWriter(io);
  let records = 0;
  let lost = 0;
  // the pending read keeps the process alive until close() resolves it (`using` closes the reader on every way out)
  for (let batch: AnyRecord[] = await reader.readBatch(256); batch.length > 0 && out.ok; batch = await reader.readBatch(256)) {
    for (const record of batch) {
      if ('lost' in record && record.lost) lost += record.lost;
      else records++;
      out.line(args.json ? formattedJson(jsonOf(record, decode) as Formatted) : textOf(record, decode));
    }
    await out.flush();
  }
  const why = !out.ok || outputClosed ? '; the output was closed, so it stopped reading and detached' : '';
  io.err(`${records} records, ${lost} lost${why}`);
  return EXIT_OK;
}

/** --value or --btf-type: a record's first bytes as the codec or type reads them (a record is padded to 8 bytes in a perf buffer). */
interface RecordDecoder {
  (data: Buffer): unknown;
  /** decoded by BTF: JSON with 64-bit integers as plain digits, as bpftool writes them */
  formatted?: boolean;
}
type Decoder = RecordDecoder | undefined;

/**
 * --btf-type NAME: each record as that type of the object's BTF, in
 * bpftool's formatted shape (structs as objects, enums by name, char arrays
 * as strings); a record shorter than the type is an error naming both sizes.
 */
function btfRecordDecoder(btf: Btf | undefined, name: string): RecordDecoder {
  if (!btf) {
    throw new LoadError(`--btf-type ${name}: the object has no BTF (build it with clang -g)`, {}, { code: 'BPF_LOAD_ARGUMENT', hint: 'decode records with --value CODEC instead' });
  }
  const typeId = findNamedType(btf, name, { what: '--btf-type' });
  const size = sizeOf(btf, typeId);
  const decoder: RecordDecoder = (data) => {
    if (data.length < size) {
      throw new LoadError(`a record of ${data.length} bytes is too short for --btf-type ${typeName(btf, typeId)} (${size} bytes)`, {}, { code: 'BPF_LOAD_ARGUMENT' });
    }
    return btfFormatted(btf, typeId, data);
  };
  decoder.formatted = true;
  return decoder;
}

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

function show(value: unknown, formatted: boolean): string {
  if (formatted) return formattedJson(value as Formatted);
  if (value instanceof Uint8Array) return spacedHex(value);
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function textOf(record: AnyRecord, decode: Decoder): string {
  const data = (): string => (decode ? show(decode(record.data), decode.formatted === true) : spacedHex(record.data));
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
    ...(decode?.formatted ? { value } : {}),
    ...(decode && !decode.formatted ? { value: value instanceof Uint8Array ? Buffer.from(value).toString('hex') : typeof value === 'bigint' ? value.toString() : value } : {}),
  };
}
