// The runtime half of a generated skeleton: load the object, check it is the
// one the types were generated from, and hand out its maps (decoded by their
// BTF types), variables, programs and record types under the generated names.

import { LoadError, argumentError, checkString } from '../errors.js';
import type { LoadOptions } from '../options.js';
import { btfCodec, typeName, type BtfValue } from '../maps/btfCodec.js';
import type { BpfMap } from '../maps/bpfMap.js';
import type { Codec } from '../maps/codecs.js';
import type { BpfProgram } from '../programs/bpfProgram.js';
import type { BpfObject } from '../load/bpfObject.js';
import { loadBpfFile } from '../load/loadBpfFile.js';
import { readObjectFileSync } from '../load/readObject.js';
import { describeObject, type ObjectDescription, type SkeletonMapKind, type SkeletonVariableInfo } from './describe.js';

/** What a generated module says of the object it was generated from (its `skeleton` constant). */
export interface SkeletonDescription {
  readonly object: string;
  readonly sha256: string;
  readonly maps: Readonly<Record<string, SkeletonMapKind>>;
  readonly variables: Readonly<Record<string, string>>;
  readonly programs: readonly string[];
  /** the record types gen-types was asked for (--type): each by its C name and BTF type id */
  readonly records?: Readonly<Record<string, { readonly type: string; readonly id: number }>>;
}

/**
 * A type of the object's BTF that records sent through a ring buffer or a
 * perf event array are decoded as (`gen-types --type NAME`): its codec is
 * built from the object's BTF, so it decodes what btfCodec decodes.
 */
export interface RecordType<T> {
  /** the C type: `struct event` */
  readonly type: string;
  /** the type's size: a shorter record is refused, a longer one (a perf record is padded to 8 bytes) read from its first `size` bytes */
  readonly size: number;
  /** the BTF codec itself, for a map, a struct({…}) field or encoding */
  readonly codec: Codec<T, T>;
  /** A record's bytes as the type (`record.data` of a ring buffer or perf event array reader). */
  decode(data: Uint8Array): T;
}

/** A global variable of the loaded object, read and written through its section's map. */
export interface SkeletonVariable<T> {
  readonly name: string;
  /** .data, .rodata, .bss, … */
  readonly section: string;
  get(): T;
  /** .rodata is frozen after load: set() there is refused by the kernel */
  set(value: T): void;
}

/** A loaded skeleton: the object, and its parts by the names the generated types give. */
export interface SkeletonObject<M, V, P extends string, R = Record<never, never>> extends Disposable {
  readonly object: BpfObject;
  readonly maps: M;
  readonly variables: V;
  readonly programs: { readonly [K in P]: BpfProgram };
  /** the record types named at generation (`gen-types --type NAME`): `records.event.decode(record.data)` */
  readonly records: R;
  close(): void;
}

function checkDescription(value: unknown, where: string): asserts value is SkeletonDescription {
  const d = value as Partial<SkeletonDescription> | null;
  if (typeof d !== 'object' || d === null || typeof d.sha256 !== 'string' || typeof d.maps !== 'object' || d.maps === null ||
      typeof d.variables !== 'object' || d.variables === null || !Array.isArray(d.programs) ||
      (d.records !== undefined && (typeof d.records !== 'object' || d.records === null))) {
    throw argumentError(where, 'skeleton', "a generated module's `skeleton` (object, sha256, maps, variables, programs, records)", value);
  }
  for (const [property, entry] of Object.entries(d.records ?? {})) {
    const e = entry as { type?: unknown; id?: unknown } | null;
    if (typeof e !== 'object' || e === null || typeof e.type !== 'string' || typeof e.id !== 'number') {
      throw argumentError(where, `skeleton.records.${property}`, 'a record type as gen-types writes it ({ type, id })', entry);
    }
  }
}

/** The map of the loaded object that holds a data section's variables (libbpf names it `<prefix><section>`). */
function sectionMap(object: BpfObject, section: string): BpfMap | undefined {
  return object.maps.find((m) => m.name === section) ?? object.maps.find((m) => m.name.endsWith(section));
}

function variable(object: BpfObject, description: ObjectDescription, info: SkeletonVariableInfo, file: string): SkeletonVariable<BtfValue> {
  const codec = btfCodec(description.btf!, info.typeId);
  const mapOf = (): BpfMap => {
    const map = sectionMap(object, info.section);
    if (!map) {
      throw new LoadError(`variable '${info.name}': the loaded object has no map for section ${info.section}`, { file }, { code: 'BPF_LOAD_INPUT' });
    }
    return map;
  };
  const zero = Buffer.alloc(4);
  const read = (map: BpfMap): Buffer => {
    const value = map.lookup(zero);
    if (!value) throw new LoadError(`variable '${info.name}': ${info.section} has no value`, { file }, { code: 'BPF_LOAD_MAP' });
    return value;
  };
  return {
    name: info.name, section: info.section,
    get: () => {
      const value = read(mapOf());
      return codec.decode(value, new DataView(value.buffer, value.byteOffset, value.byteLength), info.offset);
    },
    set: (x) => {
      const map = mapOf();
      const value = read(map);
      codec.encode(x, value, new DataView(value.buffer, value.byteOffset, value.byteLength), info.offset);
      map.update(zero, value);
    },
  };
}

function typedMap(map: BpfMap, kind: SkeletonMapKind, key: Codec<BtfValue, unknown>, value: Codec<BtfValue, unknown>): unknown {
  return kind === 'perCpu' ? map.perCpu(key, value) : map.typed(key, value);
}

/**
 * The load options with each struct or array variable's value (an object or array, as the
 * generated types give it) encoded to its bytes by its BTF type: the loader itself takes numbers,
 * booleans and strings, and raw bytes for everything else.
 */
function withEncodedVariables(description: ObjectDescription, options: LoadOptions): LoadOptions {
  const given = options.variables;
  if (typeof given !== 'object' || given === null) return options;
  const variables: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(given)) {
    const info = description.variables.find((v) => v.name === name);
    if (!info || typeof value !== 'object' || value === null || value instanceof Uint8Array) {
      variables[name] = value;
      continue;
    }
    const bytes = Buffer.alloc(info.size);
    btfCodec(description.btf!, info.typeId).encode(value as BtfValue, bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0);
    variables[name] = bytes;
  }
  return { ...options, variables };
}

/** The object at `path` described, refused (BPF_LOAD_INPUT) unless it is the one `skeleton` was generated from. */
function describeGenerated(path: string, skeleton: SkeletonDescription, where: string): ObjectDescription {
  checkString(path, 'path', where);
  checkDescription(skeleton, where);
  // as a load reads it: the errno named, and a FIFO or a directory refused instead of blocking or reading nothing
  const description = describeObject(readObjectFileSync(path), path);
  if (description.sha256 !== skeleton.sha256) {
    throw new LoadError(`is not the object the skeleton was generated from (${skeleton.object}): sha256 ${description.sha256}, expected ${skeleton.sha256}`, { file: path }, {
      code: 'BPF_LOAD_INPUT',
      hint: 'generate the types again (load-kern-object gen-types) after rebuilding the object',
    });
  }
  return description;
}

function recordType(description: ObjectDescription, property: string, given: unknown, file: string): RecordType<BtfValue> {
  const btf = description.btf;
  // its shape was checked with the description (checkDescription)
  const entry = given as { type: string; id: number };
  if (!btf || !Number.isInteger(entry.id) || entry.id <= 0 || entry.id >= btf.typeCount || typeName(btf, entry.id) !== entry.type) {
    throw new LoadError(`record type '${property}': the object's BTF has no ${entry.type} [${entry.id}]`, { file }, {
      code: 'BPF_LOAD_INPUT', hint: 'generate the types again (load-kern-object gen-types --type …)',
    });
  }
  const codec = btfCodec(btf, entry.id);
  const type = typeName(btf, entry.id);
  return {
    type, size: codec.size, codec: codec as Codec<BtfValue, BtfValue>,
    decode: (data) => {
      if (!(data instanceof Uint8Array)) throw argumentError(`records.${property}.decode`, 'data', "a record's bytes (a Uint8Array)", data);
      if (data.byteLength < codec.size) {
        throw new LoadError(`a record of ${data.byteLength} bytes is shorter than ${type} (${codec.size} bytes)`, {}, { code: 'BPF_LOAD_MAP_SIZE' });
      }
      const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      return codec.decode(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0);
    },
  };
}

function recordTypes(description: ObjectDescription, skeleton: SkeletonDescription, file: string): Record<string, RecordType<BtfValue>> {
  const records: Record<string, RecordType<BtfValue>> = {};
  for (const [property, entry] of Object.entries(skeleton.records ?? {})) records[property] = recordType(description, property, entry, file);
  return records;
}

/**
 * The record types of a generated skeleton without loading anything: for a
 * process that reads a ring buffer or perf event array another one loaded
 * (opened by its pin). The object at `path` must be the one the skeleton was
 * generated from, as for loadSkeleton.
 */
export function skeletonRecords<R>(path: string, skeleton: SkeletonDescription): R {
  const description = describeGenerated(path, skeleton, 'skeletonRecords');
  return recordTypes(description, skeleton, path) as R;
}

/**
 * Loads the object at `path` with loadBpfFile and gives its maps, variables
 * and programs by the generated names, typed by the generated module. An
 * object whose sha256 is not the one in `skeleton` is refused before
 * anything is loaded (BPF_LOAD_INPUT): generate the types again.
 */
export async function loadSkeleton<M, V, P extends string, R = Record<never, never>>(
  path: string, skeleton: SkeletonDescription, options: LoadOptions = {},
): Promise<SkeletonObject<M, V, P, R>> {
  const description = describeGenerated(path, skeleton, 'loadSkeleton');
  const records = recordTypes(description, skeleton, path);
  const object = await loadBpfFile(path, withEncodedVariables(description, options));
  try {
    const maps: Record<string, unknown> = {};
    for (const info of description.maps) {
      if (!(info.name in skeleton.maps)) continue;
      const map = object.map(info.name);
      maps[info.name] = info.kind === 'raw'
        ? map
        : typedMap(map, info.kind, btfCodec(description.btf!, info.keyTypeId), btfCodec(description.btf!, info.valueTypeId));
    }
    const variables: Record<string, SkeletonVariable<BtfValue>> = {};
    for (const info of description.variables) {
      if (info.name in skeleton.variables) variables[info.name] = variable(object, description, info, path);
    }
    const programs: Record<string, BpfProgram> = {};
    for (const name of skeleton.programs) programs[name] = object.program(name);
    const close = (): void => object.close();
    return {
      object, maps: maps as M, variables: variables as V, programs: programs as { readonly [K in P]: BpfProgram },
      records: records as R, close, [Symbol.dispose]: close,
    };
  } catch (error) {
    object.close();
    throw error;
  }
}
