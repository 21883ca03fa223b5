// The runtime half of a generated skeleton: load the object, check it is the
// one the types were generated from, and hand out its maps (decoded by their
// BTF types), variables and programs under the generated names.

import { readFileSync } from 'node:fs';
import { LoadError, argumentError, checkString } from '../errors.js';
import type { LoadOptions } from '../options.js';
import { btfCodec, type BtfValue } from '../maps/btfCodec.js';
import type { BpfMap } from '../maps/bpfMap.js';
import type { Codec } from '../maps/codecs.js';
import type { BpfProgram } from '../programs/bpfProgram.js';
import type { BpfObject } from '../load/bpfObject.js';
import { loadBpfFile } from '../load/loadBpfFile.js';
import { describeObject, type ObjectDescription, type SkeletonMapKind, type SkeletonVariableInfo } from './describe.js';

/** What a generated module says of the object it was generated from (its `skeleton` constant). */
export interface SkeletonDescription {
  readonly object: string;
  readonly sha256: string;
  readonly maps: Readonly<Record<string, SkeletonMapKind>>;
  readonly variables: Readonly<Record<string, string>>;
  readonly programs: readonly string[];
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
export interface SkeletonObject<M, V, P extends string> extends Disposable {
  readonly object: BpfObject;
  readonly maps: M;
  readonly variables: V;
  readonly programs: { readonly [K in P]: BpfProgram };
  close(): void;
}

function checkDescription(value: unknown): asserts value is SkeletonDescription {
  const d = value as Partial<SkeletonDescription> | null;
  if (typeof d !== 'object' || d === null || typeof d.sha256 !== 'string' || typeof d.maps !== 'object' || d.maps === null ||
      typeof d.variables !== 'object' || d.variables === null || !Array.isArray(d.programs)) {
    throw argumentError('loadSkeleton', 'skeleton', "a generated module's `skeleton` (object, sha256, maps, variables, programs)", value);
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

/**
 * Loads the object at `path` with loadBpfFile and gives its maps, variables
 * and programs by the generated names, typed by the generated module. An
 * object whose sha256 is not the one in `skeleton` is refused before
 * anything is loaded (BPF_LOAD_INPUT): generate the types again.
 */
export async function loadSkeleton<M, V, P extends string>(
  path: string, skeleton: SkeletonDescription, options: LoadOptions = {},
): Promise<SkeletonObject<M, V, P>> {
  checkString(path, 'path', 'loadSkeleton');
  checkDescription(skeleton);
  const bytes = readFileSync(path);
  const description = describeObject(bytes, path);
  if (description.sha256 !== skeleton.sha256) {
    throw new LoadError(`is not the object the skeleton was generated from (${skeleton.object}): sha256 ${description.sha256}, expected ${skeleton.sha256}`, { file: path }, {
      code: 'BPF_LOAD_INPUT',
      hint: 'generate the types again (load-kern-object gen-types) after rebuilding the object',
    });
  }
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
      close, [Symbol.dispose]: close,
    };
  } catch (error) {
    object.close();
    throw error;
  }
}
