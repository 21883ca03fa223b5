import { statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { BPF_MAP_TYPE, mapTypeName } from '../../syscall/index.js';
import type { Btf } from '../../elf/btf/index.js';
import { isBpffs, pathExists } from '../bpffs/bpffs.js';
import { LineWriter } from './output.js';
import type { TypedMap } from '../maps/typedMap.js';
import { EXIT_KERNEL, EXIT_OK, PROGRAM_NAME, type CliIo } from './common.js';
import type { CliContext } from './command.js';
import { CODEC_NAMES, bytes, codecByName, type Codec } from '../maps/codecs.js';
import { typeName } from '../maps/btfCodec.js';
import { formattedJson, type Formatted } from '../maps/btfFormat.js';
import { mapBtfTypes } from '../maps/kernelMapBtf.js';
import { LoadError, MapError } from '../errors.js';
import type { BpfMap } from '../maps/bpfMap.js';
import { openPinnedMap } from '../maps/openMap.js';
import { exitStatusForSignal, type SignalWatch } from './signals.js';
import { spacedHex } from './pinCommands.js';
import { dataSectionOf, formattedCodec, formattedVariables, type SectionVariable } from './btfValues.js';

/**
 * `load-kern-object dump PIN`: a pinned map's entries, walked and written in
 * bounded memory. Keys and values are decoded by a codec the user names, else
 * by the BTF types the map was created with (bpftool's "formatted" shape; a
 * data section's map as its variables by name), else shown in hex.
 */

export interface DumpArgs {
  pin: string;
  json: boolean;
  key?: string;
  value?: string;
  /** hex even where the map has BTF types */
  hex?: boolean;
  verbose: boolean;
}

/** `dump PIN`: a signal stops it (exit 130 / 143). */
export async function runDump(args: DumpArgs, { io, signals }: CliContext): Promise<number> {
  return dump(args, io, signals);
}

/** How one side (key or value) of an entry is decoded and shown. */
interface Side {
  codec: Codec<unknown>;
  /** the JSON value (before serialising: formatted values may hold bigints, written as plain digits) */
  json(value: unknown): unknown;
  text(value: unknown): string;
  /** the BTF type's name, when decoded by BTF */
  btfType?: string;
}

function codecSide(codec: Codec<unknown>): Side {
  return { codec, json: toJson, text: toText };
}

function btfSide(btf: Btf, typeId: number): Side {
  return {
    codec: formattedCodec(btf, typeId) as Codec<unknown>,
    json: (value) => value,
    text: (value) => formattedJson(value as Formatted),
    btfType: typeName(btf, typeId),
  };
}

function namedCodec(name: string, size: number, what: 'key' | 'value', mapName: string): Codec<unknown> {
  const codec = codecByName(name, size);
  if (!codec) {
    throw new LoadError(`unknown ${what} codec '${name}'`, {}, { hint: `one of: ${CODEC_NAMES.join(', ')}` });
  }
  if (codec.size !== size) {
    throw new LoadError(`${what} codec ${name} is ${codec.size} bytes, but map '${mapName}' has ${what}_size ${size}`, {});
  }
  return codec;
}

/**
 * The side's decoding: the codec named on the command line, else the map's
 * BTF type (when its size is the map's: a kernel that took a smaller type
 * gets hex, not a misread), else hex.
 */
function sideFor(name: string | undefined, size: number, what: 'key' | 'value', map: BpfMap, btf: Btf | undefined, typeId: number): Side {
  if (name !== undefined) return codecSide(namedCodec(name, size, what, map.name));
  if (btf && typeId !== 0) {
    const side = btfSide(btf, typeId);
    if (side.codec.size === size) return side;
  }
  return codecSide(bytes(size) as Codec<unknown>);
}

/** The map's BTF, or undefined (with a warning) when the kernel will not hand it over: the dump goes on in hex. */
function btfOf(map: BpfMap, io: CliIo): { btf: Btf; btfId: number; keyTypeId: number; valueTypeId: number } | undefined {
  try {
    const types = mapBtfTypes(map);
    return types && { btf: types.btf(), btfId: map.info.btf_id, keyTypeId: types.keyTypeId, valueTypeId: types.valueTypeId };
  } catch (error) {
    if (!(error instanceof LoadError)) throw error;
    io.err(`warning: ${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ''}; keys and values are shown in hex`);
    return undefined;
  }
}

function openMap(path: string): BpfMap {
  if (!pathExists(path)) throw new LoadError(`nothing is pinned at '${path}'`, {});
  // what the user named is not a pin at all: bad input, said before the kernel is asked
  if (statSync(path).isDirectory()) {
    const maps = join(path, 'maps');
    throw new LoadError(`'${path}' is a directory, not a pinned map`, {}, {
      ...(pathExists(maps) ? { hint: `the maps --pin put there are in ${maps}/` } : {}),
    });
  }
  if (!isBpffs(dirname(path))) {
    throw new LoadError(`'${path}' is not on a bpf filesystem, so it cannot be a pinned map`, {});
  }
  try {
    return openPinnedMap(path, { readOnly: true, name: basename(path) });
  } catch (error) {
    // no errno: the kernel opened it, but it is a program or a link, not a map — bad input (exit 2), not a refusal
    if (error instanceof MapError && error.errno === undefined) {
      throw new LoadError(`'${path}' is not a pinned map: ${error.message}`, {}, { cause: error });
    }
    throw error;
  }
}

async function dump(args: DumpArgs, io: CliIo, signals: SignalWatch): Promise<number> {
  const path = resolve(args.pin);
  const map = openMap(path);
  try {
    const types = args.hex ? undefined : btfOf(map, io);
    const keySide = sideFor(args.key, map.keySize, 'key', map, types?.btf, types?.keyTypeId ?? 0);
    const valueSide = sideFor(args.value, map.valueSize, 'value', map, types?.btf, types?.valueTypeId ?? 0);
    const perCpu = map.isPerCpu;
    const info = map.info;
    const btfHeader = types && (keySide.btfType !== undefined || valueSide.btfType !== undefined)
      ? { btf: { id: types.btfId, ...(keySide.btfType ? { key_type: keySide.btfType } : {}), ...(valueSide.btfType ? { value_type: valueSide.btfType } : {}) } }
      : {};
    const header = {
      path,
      id: info.id,
      name: info.name,
      type: mapTypeName(info.type),
      key_size: info.key_size,
      value_size: info.value_size,
      max_entries: info.max_entries,
      flags: info.map_flags,
      ...(perCpu ? { possible_cpus: map.possibleCpus } : {}),
      ...btfHeader,
    };
    const btfTitle = 'btf' in btfHeader
      ? `, BTF id ${types!.btfId}${keySide.btfType ? ` key ${keySide.btfType}` : ''}${valueSide.btfType ? ` value ${valueSide.btfType}` : ''}`
      : '';
    const title =
      `${path}: map '${info.name}' (${header.type}, id ${info.id}, key ${info.key_size}, value ${info.value_size}, ` +
      `max_entries ${info.max_entries}, flags 0x${info.map_flags.toString(16)}${perCpu ? `, ${map.possibleCpus} possible CPUs` : ''}${btfTitle})`;
    const section = types && valueSide.btfType !== undefined && args.value === undefined && info.type === BPF_MAP_TYPE.ARRAY && info.max_entries === 1
      ? dataSectionOf(types.btf, types.valueTypeId)
      : undefined;
    if (section) return dumpSection(map, types!.btf, section, { header, title }, args.json, io);
    const view = perCpu ? map.perCpu(keySide.codec, valueSide.codec) : map.typed(keySide.codec, valueSide.codec);
    if (map.keySize === 0) {
      // a queue or stack has no keys to walk, and popping would empty it: show what peek() sees
      const next = view.peek();
      if (args.json) io.out(formattedJson({ map: header, next: next === undefined ? null : valueSide.json(next) } as Formatted, 2));
      else io.out(`${title}: ${next === undefined ? 'empty' : `next value (peek, nothing removed): ${valueSide.text(next)}`}`);
      return EXIT_OK;
    }
    const out = new LineWriter(io);
    const walk: Walk = { view: view as DumpView, key: keySide, value: valueSide, out, interrupted: () => signals.received !== undefined, written: 0 };
    const count = args.json ? await dumpJson(walk, header, perCpu) : await dumpText(walk, title, perCpu);
    const signal = signals.received;
    if (signal !== undefined) {
      io.err(`${PROGRAM_NAME} dump: interrupted by ${signal} after ${walk.written} entries; the output is incomplete`);
      return exitStatusForSignal(signal);
    }
    return count === undefined ? EXIT_KERNEL : EXIT_OK;
  } finally {
    map.close();
  }
}

/**
 * A global-data map (`.bss`, `.data`, `.rodata`, `.data.NAME`: one value, a
 * DATASEC): its variables by name, each with its type, offset and value.
 */
function dumpSection(
  map: BpfMap, btf: Btf, section: { name: string; variables: SectionVariable[] }, head: { header: object; title: string }, json: boolean, io: CliIo,
): number {
  const value = map.lookup(Buffer.alloc(4));
  if (value === undefined) throw new MapError(map.name, 'a data section map has no value at index 0');
  const variables = formattedVariables(btf, section.variables, value);
  if (json) {
    const rows = variables.map(({ variable, value }) => ({ name: variable.name, type: variable.type, offset: variable.offset, size: variable.size, value }));
    io.out(formattedJson({ map: head.header, section: section.name, variables: rows } as unknown as Formatted, 2));
    return EXIT_OK;
  }
  const lines = [`${head.title}:`, `section ${section.name}, ${variables.length} ${variables.length === 1 ? 'variable' : 'variables'}:`];
  for (const { variable, value } of variables) lines.push(`  ${variable.name} (${variable.type}, offset ${variable.offset}): ${formattedJson(value)}`);
  io.out(lines.join('\n'));
  return EXIT_OK;
}

type DumpView = TypedMap<unknown, unknown, never, never>;

interface Walk {
  view: DumpView;
  key: Side;
  value: Side;
  out: LineWriter;
  /** a signal came: stop at the next piece */
  interrupted(): boolean;
  /** entries handed to the output so far */
  written: number;
}

/** One turn of the event loop: a write to a file, a terminal or /dev/null never waits, and signal handlers run only between turns. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Every entry of the view, decoded chunk by chunk as the walk goes and
 * written as soon as a piece is full: nothing is kept once it is written.
 * Stops early (undefined) when the output fails or a signal came.
 */
async function walkEntries(walk: Walk, visit: (key: unknown, value: unknown) => void): Promise<number | undefined> {
  const { view, out } = walk;
  const keyCodec = view.keyCodec;
  const valueCodec = view.valueCodec;
  for (const chunk of view.chunks(true)) {
    for (let i = 0; i < chunk.count; i++) {
      visit(keyCodec.decode(chunk.keys, chunk.keysView, i * chunk.keySize), valueCodec.decode(chunk.values, chunk.valuesView, i * chunk.valueSize));
      walk.written++;
      if (out.full) {
        await out.flush();
        if (!out.ok) return undefined;
        await nextTurn();
        if (walk.interrupted()) return undefined;
      }
    }
  }
  return walk.written;
}

/** The text dump: the title, a line per entry (per CPU: a line per CPU under the key), then the count. */
async function dumpText(walk: Walk, title: string, perCpu: boolean): Promise<number | undefined> {
  const { out, key: keySide, value: valueSide } = walk;
  out.line(`${title}:`);
  const count = await walkEntries(walk, (key, value) => {
    if (!perCpu) return out.line(`key: ${keySide.text(key)}  value: ${valueSide.text(value)}`);
    out.line(`key: ${keySide.text(key)}`);
    const slots = value as unknown[];
    for (let cpu = 0; cpu < slots.length; cpu++) out.line(`  cpu ${cpu}: ${valueSide.text(slots[cpu])}`);
  });
  if (count === undefined) return out.flush().then(() => undefined);
  out.line(`${count} ${count === 1 ? 'entry' : 'entries'}`);
  await out.flush();
  return out.ok ? count : undefined;
}

/**
 * The JSON dump, written as it walks: byte for byte what
 * JSON.stringify({ map, entries }, null, 2) would give for the whole map
 * (formatted 64-bit integers written as plain digits, as bpftool writes them).
 */
async function dumpJson(walk: Walk, header: object, perCpu: boolean): Promise<number | undefined> {
  const { out, key: keySide, value: valueSide } = walk;
  const head = JSON.stringify({ map: header }, null, 2);
  // everything but the closing brace, then the entries array opened lazily: an empty map gives "entries": []
  const opening = `${head.slice(0, head.length - 2)},\n  "entries": [`;
  let first = true;
  const count = await walkEntries(walk, (key, value) => {
    const row = perCpu
      ? { key: keySide.json(key), values: (value as unknown[]).map((v) => valueSide.json(v)) }
      : { key: keySide.json(key), value: valueSide.json(value) };
    const text = formattedJson(row as Formatted, 2).replace(/\n/g, '\n    ');
    out.text(first ? `${opening}\n    ${text}` : `,\n    ${text}`);
    first = false;
  });
  if (count === undefined) return out.flush().then(() => undefined);
  out.text(first ? `${opening}]\n}\n` : '\n  ]\n}\n');
  await out.flush();
  return out.ok ? count : undefined;
}

function toText(value: unknown): string {
  if (value instanceof Uint8Array) return spacedHex(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return JSON.stringify(toJson(value));
  return String(value);
}

/** JSON has no bigint and no bytes: 64-bit integers a codec decodes become decimal strings, bytes a hex string. */
function toJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  }
  return value;
}
