// BTF-defined maps: each variable of the `.maps` DATASEC is a struct whose
// members say what the map is, in the encoding of libbpf's bpf_helpers.h:
//   __uint(name, val)   int (*name)[val]          a number, as an array's length
//   __type(name, T)     typeof(T) *name           a type, pointed to
//   __array(name, T)    typeof(T) *name[]         the inner map (or program) type of map-in-map / prog array
//   __ulong(name, val)  enum { … = val } name     a 64-bit number (map_extra)
// Read as libbpf 1.x reads them (parse_btf_map_def), strict: an unknown member is an error.

import { BPF_MAP_TYPE, isMapInMapType } from '../../uapi/bpf.js';
import type { Btf } from './btf.js';
import { datasecVariables, type SymbolOffsets } from './datasec.js';
import { BtfError } from './errors.js';
import { POINTER_SIZE, describe, sizeOf, skipModsAndTypedefs } from './query.js';
import type { BtfComposite, BtfMember } from './types.js';
import type { InnerMapTemplate, MapSpec } from '../types.js';

export const MAPS_SECTION_BTF = '.maps';

/** libbpf's `enum libbpf_pin_type`: LIBBPF_PIN_NONE, LIBBPF_PIN_BY_NAME */
export const LIBBPF_PIN_NONE = 0;
export const LIBBPF_PIN_BY_NAME = 1;

/**
 * A map of `.maps`: the object model's MapSpec, read straight from the
 * definition (pinning, the inline inner template, the `.values` contents and
 * the key and value BTF types included), and what only BTF says of it. Sizes
 * are 0 where the definition gives none (a ring buffer's key and value).
 */
export interface BtfMapDefinition {
  spec: MapSpec;
  /** the VAR and its definition STRUCT */
  varId: number;
  defTypeId: number;
  /** where the definition is in `.maps`, for relocations against it */
  offset: number;
  size: number;
  /** a PROG_ARRAY's `__array(values, …)`: the programs' FUNC_PROTO */
  valuesProtoId?: number;
  /** map-in-map: the inner definition's STRUCT (`__array(values, struct { … })`) and its key and value types */
  inner?: { defTypeId: number; btf: { keyTypeId: number; valueTypeId: number } };
}

/** A relocation in `.rel.maps`: a pointer slot of some map's `values`, and the symbol it points to. */
export interface MapsRelocation {
  /** byte offset in `.maps` */
  offset: number;
  symbol: string;
  /** what the symbol is: a map (in `.maps`) or a program (a function) */
  target: 'map' | 'program';
}

export interface BtfMapsOptions {
  /** offsets of global maps from the symbol table (clang leaves them 0 in BTF) */
  symbolOffset?: SymbolOffsets;
  /** `.rel.maps`: the `.values` initializers */
  relocations?: readonly MapsRelocation[];
}

/** Every map of the `.maps` DATASEC, in offset order; [] when there is none. */
export function btfMapDefinitions(btf: Btf, options: BtfMapsOptions = {}): BtfMapDefinition[] {
  const datasec = btf.find(MAPS_SECTION_BTF, 'DATASEC');
  if (!datasec) return [];
  const maps = datasecVariables(btf, datasec, options.symbolOffset).map((variable): BtfMapDefinition => {
    const def = btf.type(skipModsAndTypedefs(btf, variable.typeId));
    if (def.kind !== 'STRUCT') {
      throw mapError(btf, variable.name, def.id, `is ${describe(def)}, not a struct of __uint/__type/__array members`);
    }
    const parsed = parseDefinition(btf, variable.name, def, false);
    parsed.spec.source = { kind: 'btf', offset: variable.offset };
    return { ...parsed, varId: variable.varId, offset: variable.offset, size: variable.size };
  });
  for (const relocation of options.relocations ?? []) applyValuesRelocation(btf, maps, relocation);
  return maps;
}

function mapError(btf: Btf, map: string, typeId: number, message: string): BtfError {
  return new BtfError(message, { ...btf.context, typeId, map });
}

type ParsedDefinition = Omit<BtfMapDefinition, 'varId' | 'offset' | 'size'>;

function parseDefinition(btf: Btf, name: string, def: BtfComposite, inner: boolean): ParsedDefinition {
  const spec: MapSpec = {
    name, type: 0, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0, pinning: 'none', btf: { keyTypeId: 0, valueTypeId: 0 },
    source: { kind: 'btf', offset: 0 },
  };
  const parsed: ParsedDefinition = { spec, defTypeId: def.id };
  const fail: (member: BtfMember | undefined, message: string) => never = (member, message) => {
    throw mapError(btf, name, def.id, member ? `member '${member.name}' ${message}` : message);
  };
  const setSize = (member: BtfMember, which: 'keySize' | 'valueSize', size: number): void => {
    if (spec[which] !== 0 && spec[which] !== size) fail(member, `says ${size} bytes, but the ${which === 'keySize' ? 'key' : 'value'} was given as ${spec[which]}`);
    spec[which] = size;
  };
  let values: BtfMember | undefined;
  for (const member of def.members) {
    switch (member.name) {
      case 'type':
        spec.type = uintField(btf, name, member);
        break;
      case 'max_entries':
        spec.maxEntries = uintField(btf, name, member);
        break;
      case 'map_flags':
        spec.flags = uintField(btf, name, member);
        break;
      case 'numa_node':
        spec.numaNode = uintField(btf, name, member);
        break;
      case 'map_extra':
        spec.mapExtra = ulongField(btf, name, member);
        break;
      case 'key_size':
        setSize(member, 'keySize', uintField(btf, name, member));
        break;
      case 'value_size':
        setSize(member, 'valueSize', uintField(btf, name, member));
        break;
      case 'key':
      case 'value': {
        const pointed = typeField(btf, name, member);
        setSize(member, member.name === 'key' ? 'keySize' : 'valueSize', sizeOf(btf, pointed));
        if (member.name === 'key') spec.btf!.keyTypeId = pointed;
        else spec.btf!.valueTypeId = pointed;
        break;
      }
      case 'pinning': {
        if (inner) fail(member, 'pins an inner map definition, which cannot be pinned');
        const pinning = uintField(btf, name, member);
        if (pinning !== LIBBPF_PIN_NONE && pinning !== LIBBPF_PIN_BY_NAME) fail(member, `is ${pinning}: only LIBBPF_PIN_NONE (0) and LIBBPF_PIN_BY_NAME (1) exist`);
        spec.pinning = pinning === LIBBPF_PIN_BY_NAME ? 'byName' : 'none';
        break;
      }
      case 'values':
        if (inner) fail(member, 'in an inner map definition: maps nested more than one level are not supported');
        values = member;
        break;
      default:
        fail(member, member.name === '' ? 'has no name' : 'is not a map attribute libbpf knows (type, key, value, key_size, value_size, max_entries, map_flags, numa_node, map_extra, pinning, values)');
    }
  }
  if (spec.type === 0) fail(undefined, 'has no map type (__uint(type, …))');
  if (values) {
    const isMapInMap = isMapInMapType(spec.type);
    if (!isMapInMap && spec.type !== BPF_MAP_TYPE.PROG_ARRAY) fail(values, `is for map-in-map and program arrays, not map type ${spec.type}`);
    if (def.members.at(-1) !== values) fail(values, 'must be the last member');
    if (spec.valueSize !== 0 && spec.valueSize !== 4) fail(values, `makes the value an fd (4 bytes), but it was given as ${spec.valueSize}`);
    spec.valueSize = 4;
    const array = btf.type(values.type);
    if (array.kind !== 'ARRAY' || array.nelems !== 0) fail(values, `is ${describe(array)}${array.kind === 'ARRAY' ? ` of ${array.nelems}` : ''}, not an array of no size (__array)`);
    const pointer = btf.type(skipModsAndTypedefs(btf, array.type));
    if (pointer.kind !== 'PTR') fail(values, `holds ${describe(pointer)}, not pointers`);
    const target = btf.type(skipModsAndTypedefs(btf, pointer.type));
    if (isMapInMap) {
      if (target.kind !== 'STRUCT') fail(values, `points to ${describe(target)}, not an inner map definition (a struct)`);
      const innerDef = parseDefinition(btf, `${name}.inner`, target, true);
      spec.innerTemplate = innerTemplate(innerDef.spec);
      parsed.inner = { defTypeId: target.id, btf: innerDef.spec.btf! };
    } else {
      if (target.kind !== 'FUNC_PROTO') fail(values, `of a program array points to ${describe(target)}, not a function`);
      parsed.valuesProtoId = target.id;
    }
  }
  // libbpf's defaults: a perf event array's key and value are ints (its max_entries, the CPUs, is the loader's)
  if (spec.type === BPF_MAP_TYPE.PERF_EVENT_ARRAY) {
    spec.keySize ||= 4;
    spec.valueSize ||= 4;
  }
  return parsed;
}

/** What an inline inner definition gives the outer map's creation. */
function innerTemplate(inner: MapSpec): InnerMapTemplate {
  return {
    type: inner.type, keySize: inner.keySize, valueSize: inner.valueSize, maxEntries: inner.maxEntries, flags: inner.flags,
    ...(inner.numaNode !== undefined && { numaNode: inner.numaNode }),
    ...(inner.mapExtra !== undefined && { mapExtra: inner.mapExtra }),
  };
}

/** __uint(name, val): a pointer to an array of `val` elements. */
function uintField(btf: Btf, map: string, member: BtfMember): number {
  const pointer = btf.type(skipModsAndTypedefs(btf, member.type));
  if (pointer.kind !== 'PTR') throw mapError(btf, map, member.type, `member '${member.name}' is ${describe(pointer)}, not __uint's pointer to an array`);
  const array = btf.type(pointer.type);
  if (array.kind !== 'ARRAY') throw mapError(btf, map, member.type, `member '${member.name}' points to ${describe(array)}, not __uint's array`);
  return array.nelems;
}

/** __ulong(name, val) (an enum holding the value) or, as libbpf 1.1's headers write map_extra, __uint. */
function ulongField(btf: Btf, map: string, member: BtfMember): bigint {
  const type = btf.type(skipModsAndTypedefs(btf, member.type));
  if (type.kind === 'PTR') return BigInt(uintField(btf, map, member));
  if ((type.kind === 'ENUM' || type.kind === 'ENUM64') && type.values.length === 1) return BigInt(type.values[0]!.value);
  throw mapError(btf, map, member.type, `member '${member.name}' is ${describe(type)}, neither __uint nor __ulong`);
}

/** __type(name, T): a pointer to T; returns T's id. */
function typeField(btf: Btf, map: string, member: BtfMember): number {
  const pointer = btf.type(skipModsAndTypedefs(btf, member.type));
  if (pointer.kind !== 'PTR') throw mapError(btf, map, member.type, `member '${member.name}' is ${describe(pointer)}, not __type's pointer`);
  return pointer.type;
}

/** A `.rel.maps` entry: slot N of some map's `values` points to a map or a program. */
function applyValuesRelocation(btf: Btf, maps: BtfMapDefinition[], relocation: MapsRelocation): void {
  const map = maps.find((m) => relocation.offset >= m.offset && relocation.offset < m.offset + m.size);
  if (!map) throw new BtfError(`a .maps relocation at offset ${relocation.offset} (to '${relocation.symbol}') is in no map definition`, btf.context);
  const { spec } = map;
  const def = btf.type(map.defTypeId) as BtfComposite;
  const values = def.members.at(-1);
  if (!values || values.name !== 'values') {
    throw mapError(btf, spec.name, def.id, `a relocation at offset ${relocation.offset} (to '${relocation.symbol}') but the map has no values`);
  }
  const within = relocation.offset - map.offset - values.bitOffset / 8;
  if (within < 0 || within % POINTER_SIZE !== 0) {
    throw mapError(btf, spec.name, def.id, `a relocation at offset ${relocation.offset} (to '${relocation.symbol}') is not on a slot of values`);
  }
  const slot = within / POINTER_SIZE;
  const isProgramArray = spec.type === BPF_MAP_TYPE.PROG_ARRAY;
  if (relocation.target !== (isProgramArray ? 'program' : 'map')) {
    throw mapError(btf, spec.name, def.id, `values[${slot}] points to ${relocation.target} '${relocation.symbol}', but a ${isProgramArray ? 'program array holds programs' : 'map-in-map holds maps'}`);
  }
  if (slot >= spec.maxEntries) throw mapError(btf, spec.name, def.id, `values[${slot}] is past max_entries ${spec.maxEntries}`);
  if (isProgramArray) spec.programContents = bySlot(spec.programContents, { slot, program: relocation.symbol });
  else spec.contents = bySlot(spec.contents, { slot, map: relocation.symbol });
}

/** `entries` with `entry` in its slot (a later initializer of a slot wins), in slot order. */
function bySlot<T extends { slot: number }>(entries: T[] | undefined, entry: T): T[] {
  return [...(entries ?? []).filter((e) => e.slot !== entry.slot), entry].sort((a, b) => a.slot - b.slot);
}
