import { MAPS_SECTION, type MapSpec, type ObjectSpec } from '../../elf/index.js';
import {
  BPF_F_NUMA_NODE, BPF_MAP_TYPE, BpfFd, SyscallError, errno, isMapInMapType, mapCreate, mapTypeName, pageSize,
} from '../../syscall/index.js';
import { possibleCpus } from '../maps/perCpu.js';
import { inspectMapFd, kernelValueSize, mapMismatches, type MapDef } from '../maps/compatibility.js';
import type { FixupMap, MapData, OpenMap } from '../options.js';
import { kernelObjectName } from './kernelName.js';
import { LoadError, type LoadErrorContext } from '../errors.js';

/**
 * BPF_MAP_CREATE of one map spec (an outer map with its template's fd). A
 * refusal is a LoadError naming the map, with the field that most likely
 * made the kernel say no.
 */
export function createMap(map: MapSpec, innerMapFd: number, context: LoadErrorContext, btfFd = 0): BpfFd {
  const attr = {
    map_type: map.type,
    key_size: map.keySize,
    value_size: kernelValueSize({ type: map.type, value_size: map.valueSize }),
    max_entries: libbpfMaxEntries(map),
    map_flags: map.flags,
    inner_map_fd: innerMapFd,
    numa_node: map.flags & BPF_F_NUMA_NODE ? (map.numaNode ?? 0) : 0,
    map_name: kernelObjectName(map.name),
    map_extra: map.mapExtra,
  };
  const typed = btfFd > 0 && map.btf !== undefined && !NO_BTF_TYPES.has(map.type) && (map.btf.keyTypeId !== 0 || map.btf.valueTypeId !== 0);
  try {
    if (typed) {
      try {
        return mapCreate({ ...attr, btf_fd: btfFd, btf_key_type_id: map.btf!.keyTypeId, btf_value_type_id: map.btf!.valueTypeId });
      } catch (cause) {
        // libbpf retries without BTF: a kernel that cannot check these types still makes the map
        if (!(cause instanceof SyscallError)) throw cause;
      }
    }
    return mapCreate(attr);
  } catch (cause) {
    // only the kernel's refusal is the user's to act on; anything else is a bug and must look like one
    if (!(cause instanceof SyscallError)) throw cause;
    throw new LoadError(`failed to create map (${describeMap(map)})`, context, {
      cause,
      ...hintOption(diagnoseMapCreate(map, cause)),
    });
  }
}

/** libbpf 1.1 creates these without BTF whatever the definition says (bpf_object__create_map). */
const NO_BTF_TYPES = new Set<number>([
  BPF_MAP_TYPE.PERF_EVENT_ARRAY, BPF_MAP_TYPE.CGROUP_ARRAY, BPF_MAP_TYPE.STACK_TRACE, BPF_MAP_TYPE.ARRAY_OF_MAPS,
  BPF_MAP_TYPE.HASH_OF_MAPS, BPF_MAP_TYPE.DEVMAP, BPF_MAP_TYPE.DEVMAP_HASH, BPF_MAP_TYPE.CPUMAP, BPF_MAP_TYPE.XSKMAP,
  BPF_MAP_TYPE.SOCKMAP, BPF_MAP_TYPE.SOCKHASH, BPF_MAP_TYPE.QUEUE, BPF_MAP_TYPE.STACK,
]);

/**
 * max_entries as libbpf makes it for BTF-defined maps (any other keeps its own): a perf event
 * array without one gets the possible CPUs, a ring buffer's is rounded up to a power-of-two
 * number of pages.
 */
function libbpfMaxEntries(map: MapSpec): number {
  if (map.source.kind !== 'btf') return map.maxEntries;
  if (map.type === BPF_MAP_TYPE.PERF_EVENT_ARRAY && map.maxEntries === 0) return possibleCpus();
  if (map.type === BPF_MAP_TYPE.RINGBUF && map.maxEntries > 0) {
    const page = pageSize();
    let size = page;
    while (size < map.maxEntries) size *= 2;
    return Math.max(size, page);
  }
  return map.maxEntries;
}

/**
 * The samples/bpf view of a map spec: what BpfMap.def shows and fixupMap edits. max_entries is
 * what the kernel was asked for (a BTF perf event array without one has a slot per possible CPU).
 */
export function defOf(map: MapSpec, innerMapIdx: number): MapDef {
  return {
    type: map.type, key_size: map.keySize, value_size: map.valueSize, max_entries: libbpfMaxEntries(map), map_flags: map.flags,
    inner_map_idx: innerMapIdx, numa_node: map.numaNode ?? 0,
  };
}

/**
 * fixupMap, as sugar over editing the spec: the callback edits a MapData of
 * each map in map_fd[] order; what it changed is written back into `spec`
 * (a copy the load owns), and an fd it handed in becomes a replacement.
 */
export function applyFixupMap(spec: ObjectSpec, maps: readonly MapSpec[], fixupMap: FixupMap, replace: Map<string, OpenMap | number>): void {
  const indexOf = new Map(maps.map((m, i) => [m.name, i]));
  for (const [index, map] of maps.entries()) {
    const inner = map.innerMap === undefined ? undefined : indexOf.get(map.innerMap);
    const rawInner = map.source.kind === 'maps' ? map.source.raw.innerMapIdx ?? 0 : 0;
    const def = defOf(map, inner ?? rawInner);
    const data: MapData = { index, name: map.name, elfOffset: map.source.kind === 'maps' ? map.source.offset : -1, def: { ...def }, fd: -1 };
    const context = { file: spec.file, section: MAPS_SECTION, map: { index, name: map.name } };
    let returned: unknown;
    try {
      returned = fixupMap(data, index);
    } catch (cause) {
      const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
      throw new LoadError(`fixupMap callback threw ${detail}`, context, { cause });
    }
    if (typeof (returned as PromiseLike<unknown> | undefined)?.then === 'function') {
      // its rejection is this error's business now, not an unhandled one
      Promise.resolve(returned).catch(() => undefined);
      throw new LoadError('fixupMap returned a Promise: it is called synchronously, before each map is created, and is not awaited', context, {
        code: 'BPF_LOAD_ARGUMENT',
        hint: 'do the asynchronous work before the load and pass a synchronous callback',
      });
    }
    checkFixedUp(data, context);
    const edited = data.def;
    Object.assign(map, {
      type: edited.type, keySize: edited.key_size, valueSize: edited.value_size, maxEntries: edited.max_entries, flags: edited.map_flags,
    });
    if (edited.map_flags & BPF_F_NUMA_NODE) map.numaNode = edited.numa_node;
    else delete map.numaNode;
    if (edited.inner_map_idx !== def.inner_map_idx) {
      // the struct's field as edited, for messages; the template by name, when it names another map
      if (map.source.kind === 'maps') map.source.raw.innerMapIdx = edited.inner_map_idx;
      const named = maps[edited.inner_map_idx];
      if (named && named !== map) map.innerMap = named.name;
      else delete map.innerMap;
    }
    if (data.fd !== -1) replace.set(map.name, data.fd);
  }
}

const U32_MAX = 0xffffffff;

/** Local storage maps: no max_entries (0), BPF_F_NO_PREALLOC, and BTF. */
const STORAGE_TYPES = new Set<number>([
  BPF_MAP_TYPE.SK_STORAGE, BPF_MAP_TYPE.INODE_STORAGE, BPF_MAP_TYPE.TASK_STORAGE, BPF_MAP_TYPE.CGRP_STORAGE,
]);

/** bpf(2) takes u32 fields: a callback's -1, 1.5 or 2**32 would otherwise wrap silently into another def. */
function checkFixedUp(data: MapData, context: LoadErrorContext): void {
  if (typeof data.def !== 'object' || data.def === null) {
    throw new LoadError(`fixupMap set def to ${data.def === null ? 'null' : typeof data.def}: edit its fields instead`, context, {
      code: 'BPF_LOAD_ARGUMENT',
    });
  }
  for (const field of DEF_FIELDS) {
    const value: unknown = data.def[field];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > U32_MAX) {
      throw new LoadError(`fixupMap set def.${field} to ${String(value)}, not an unsigned 32-bit integer`, context, { code: 'BPF_LOAD_ARGUMENT' });
    }
  }
  if (!Number.isInteger(data.fd) || data.fd < -1) {
    throw new LoadError(`fixupMap set fd to ${String(data.fd)}: use -1 to create the map, or an open map fd`, context, { code: 'BPF_LOAD_ARGUMENT' });
  }
}

const DEF_FIELDS = ['type', 'key_size', 'value_size', 'max_entries', 'map_flags', 'inner_map_idx', 'numa_node'] as const;

export function describeMap(map: MapSpec): string {
  const parts = [
    mapTypeName(map.type) === String(map.type) ? `type ${map.type} (unknown)` : `type ${mapTypeName(map.type)}`,
    `key ${map.keySize}`,
    `value ${map.valueSize}`,
    `max_entries ${map.maxEntries}`,
    `flags 0x${map.flags.toString(16)}`,
  ];
  if (isMapInMapType(map.type) && map.innerMap !== undefined) parts.push(`inner map '${map.innerMap}'`);
  if (map.flags & BPF_F_NUMA_NODE) parts.push(`numa_node ${map.numaNode ?? 0}`);
  return parts.join(', ');
}

/**
 * A map handed in (maps.replace, or an fd from fixupMap) stands for the
 * spec's: the programs were compiled for its type, key and value sizes, so
 * those must match, and the live map takes the rest (max_entries, flags) from
 * what the kernel says the map is. Its element buffers are sized from this.
 */
export function adoptReplacement(owner: BpfFd, label: string, map: MapSpec, context: LoadErrorContext): MapSpec {
  const inspection = inspectMapFd(owner.fd);
  if (inspection.kind === 'other') throw new LoadError(`${label} is not a BPF map (it is a ${inspection.what})`, context, { code: 'BPF_LOAD_ARGUMENT' });
  if (inspection.kind === 'unreadable') {
    throw new LoadError(`cannot read what ${label} is`, context, { cause: inspection.cause });
  }
  const differences = mapMismatches(map, inspection.info, label, ['type', 'key_size', 'value_size']);
  if (differences.length) {
    throw new LoadError(`${label} does not match the spec of map '${map.name}': ${differences.join(', ')}`, context, {
      code: 'BPF_LOAD_ARGUMENT',
      hint: "the object's programs were compiled for the spec's type and sizes",
    });
  }
  return { ...map, maxEntries: inspection.info.max_entries, flags: inspection.info.map_flags };
}

function hintOption(hint: string | undefined): { hint?: string } {
  return hint === undefined ? {} : { hint };
}

/** Which field most likely made the kernel say no, for EINVAL / E2BIG. */
function diagnoseMapCreate(map: MapSpec, cause: unknown): string | undefined {
  if (!(cause instanceof SyscallError)) return undefined;
  if (cause.errno === errno.EINVAL) {
    if (map.type === 0) return 'type is 0 (BPF_MAP_TYPE_UNSPEC): the definition is empty or was zeroed';
    if (map.type > BPF_MAP_TYPE.ARENA) return `map type ${map.type} is unknown to this kernel`;
    if (STORAGE_TYPES.has(map.type)) {
      if (map.maxEntries !== 0) {
        return `a ${mapTypeName(map.type)} map must have max_entries 0 (it holds one value per object it is attached to), not ${map.maxEntries}`;
      }
      return `a ${mapTypeName(map.type)} map needs map_flags BPF_F_NO_PREALLOC (1) and BTF for its key and value, which a samples-style object does not give`;
    }
    if (map.maxEntries === 0) return 'max_entries is 0';
    if (map.keySize === 0 && map.type !== BPF_MAP_TYPE.QUEUE && map.type !== BPF_MAP_TYPE.STACK) return 'key_size is 0';
    if (map.valueSize === 0 && !isMapInMapType(map.type)) return 'value_size is 0';
    if ((map.type === BPF_MAP_TYPE.ARRAY || map.type === BPF_MAP_TYPE.PERCPU_ARRAY || map.type === BPF_MAP_TYPE.PROG_ARRAY) &&
        map.keySize !== 4) {
      return `an array's key_size must be 4, not ${map.keySize}`;
    }
    if ((map.type === BPF_MAP_TYPE.PROG_ARRAY || map.type === BPF_MAP_TYPE.PERF_EVENT_ARRAY) && map.valueSize !== 4) {
      return `a ${mapTypeName(map.type)} map's value_size must be 4, not ${map.valueSize}`;
    }
    if (map.flags & BPF_F_NUMA_NODE) return `numa_node ${(map.numaNode ?? 0)} may not exist on this machine`;
    if (map.flags !== 0) return `map_flags 0x${map.flags.toString(16)} may not be valid for map type ${mapTypeName(map.type)}`;
    return `key_size ${map.keySize}, value_size ${map.valueSize} or max_entries ${map.maxEntries} may not suit map type ${mapTypeName(map.type)}`;
  }
  if (cause.errno === errno.E2BIG) {
    return `key_size ${map.keySize} or value_size ${map.valueSize} is larger than this map type allows`;
  }
  return undefined;
}
