import { MAPS_SECTION, type MapDef, type MapSpec, type ObjectSpec } from '../../elf/index.js';
import {
  BPF_F_NUMA_NODE, BPF_MAP_TYPE, BpfFd, SyscallError, errno, isMapInMapType, mapCreate, mapTypeName,
} from '../../syscall/index.js';
import { dupFd } from './dupFd.js';
import { BpfMap } from '../maps/bpfMap.js';
import type { Cleanup } from '../cleanup.js';
import { inspectMapFd, kernelValueSize, mapMismatches } from '../maps/compatibility.js';
import type { FixupMap, MapData } from '../options.js';
import type { MapCreateHooks } from '../pinning/types.js';
import { kernelObjectName } from './kernelName.js';
import { LoadError, type LoadErrorContext } from '../errors.js';

export interface CreateMapsOptions extends MapCreateHooks {
  fixupMap?: FixupMap | undefined;
}

/**
 * Create every map of the object in map_fd[] order. A map-in-map whose
 * template comes later in the section gets the template created first
 * (bpf_load.c passed a stale fd there); map_fd[] order is unchanged.
 */
export function createMaps(spec: ObjectSpec, options: CreateMapsOptions, cleanup: Cleanup): BpfMap[] {
  const defs = spec.maps.map((map) => fixup(spec, map, options.fixupMap));
  const created: (BpfMap | undefined)[] = new Array(spec.maps.length);
  /** the maps being created, outermost first: a template already on it closes a cycle */
  const inProgress: number[] = [];

  const create = (index: number): BpfMap => {
    const existing = created[index];
    if (existing) return existing;
    const map = spec.maps[index]!;
    const { def, fd: handedIn } = defs[index]!;
    const context = { file: spec.file, section: 'maps', map: { index, name: map.name } };
    if (inProgress.includes(index)) {
      const cycle = [...inProgress.slice(inProgress.indexOf(index)), index].map((i) => `'${spec.maps[i]!.name}'`);
      throw new LoadError(`map-in-map inner-map templates form a cycle: ${cycle.join(' -> ')}`, context);
    }
    inProgress.push(index);

    let owner: BpfFd | undefined;
    let liveDef = def;
    if (handedIn !== -1) {
      owner = dupFd(handedIn, context, 'use the fd fixupMap handed in');
      try {
        liveDef = adoptHandedInMap(owner, handedIn, def, context);
      } catch (error) {
        owner.close();
        throw error;
      }
    } else {
      owner = options.resolveExisting?.(map, def);
    }
    if (!owner) {
      let innerMapFd = 0;
      let valueSize = def.value_size;
      if (isMapInMapType(def.type)) {
        const innerIndex = options.innerTemplateIndex ? options.innerTemplateIndex(map, def) : def.inner_map_idx;
        if (innerIndex === index) {
          throw new LoadError(`map-in-map names itself (inner_map_idx ${innerIndex}) as its inner-map template`, context);
        }
        if (!Number.isInteger(innerIndex) || innerIndex < 0 || innerIndex >= spec.maps.length) {
          throw new LoadError(
            `map-in-map inner_map_idx ${innerIndex} is not a map of this object (it has ${spec.maps.length})`,
            context,
          );
        }
        innerMapFd = create(innerIndex).fd;
        valueSize = kernelValueSize(def);
      }
      let created: BpfFd;
      try {
        created = mapCreate({
          map_type: def.type,
          key_size: def.key_size,
          value_size: valueSize,
          max_entries: def.max_entries,
          map_flags: def.map_flags,
          inner_map_fd: innerMapFd,
          numa_node: def.map_flags & BPF_F_NUMA_NODE ? def.numa_node : 0,
          map_name: kernelObjectName(map.name),
        });
      } catch (cause) {
        // only the kernel's refusal is the user's to act on; anything else is a bug and must look like one
        if (!(cause instanceof SyscallError)) throw cause;
        throw new LoadError(`failed to create map (${describeDef(def)})`, context, {
          cause,
          ...hintOption(diagnoseMapCreate(def, cause)),
        });
      }
      owner = publish(options, map, def, created);
    }
    const fdOwner = owner;
    cleanup.add(() => fdOwner.close());
    const live = new BpfMap(fdOwner, map.name, Object.freeze({ ...liveDef }), index, map.offset);
    created[index] = live;
    inProgress.pop();
    return live;
  };

  for (let index = 0; index < spec.maps.length; index++) create(index);
  return created as BpfMap[];
}

/** Let pinning publish a new map; the map it hands back is the one to use. */
function publish(options: CreateMapsOptions, map: MapSpec, def: MapDef, created: BpfFd): BpfFd {
  if (!options.publishCreated) return created;
  let chosen: BpfFd;
  try {
    chosen = options.publishCreated(map, def, created);
  } catch (error) {
    created.close();
    throw error;
  }
  if (chosen !== created) created.close();
  return chosen;
}

/** The definition to create the map from (the spec's own when there is no fixupMap: BpfMap copies it) and the fd handed in, or -1. */
function fixup(spec: ObjectSpec, map: MapSpec, fixupMap: FixupMap | undefined): { def: MapDef; fd: number } {
  if (!fixupMap) return { def: map.def, fd: -1 };
  const data: MapData = { index: map.index, name: map.name, elfOffset: map.offset, def: { ...map.def }, fd: -1 };
  const context = { file: spec.file, section: MAPS_SECTION, map: { index: map.index, name: map.name } };
  let returned: unknown;
  try {
    returned = fixupMap(data, map.index);
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
  return { def: data.def, fd: data.fd };
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

export function describeDef(def: MapDef): string {
  const parts = [
    mapTypeName(def.type) === String(def.type) ? `type ${def.type} (unknown)` : `type ${mapTypeName(def.type)}`,
    `key ${def.key_size}`,
    `value ${def.value_size}`,
    `max_entries ${def.max_entries}`,
    `flags 0x${def.map_flags.toString(16)}`,
  ];
  if (isMapInMapType(def.type)) parts.push(`inner_map_idx ${def.inner_map_idx}`);
  if (def.map_flags & BPF_F_NUMA_NODE) parts.push(`numa_node ${def.numa_node}`);
  return parts.join(', ');
}

/**
 * A map fixupMap handed in stands for the object's definition: the programs
 * were compiled for its type, key and value sizes, so those must match, and
 * the live map takes the rest (max_entries, flags) from what the kernel says
 * the map is. Its element buffers are sized from this, never from a guess.
 */
function adoptHandedInMap(owner: BpfFd, handedIn: number, def: MapDef, context: LoadErrorContext): MapDef {
  const inspection = inspectMapFd(owner.fd);
  if (inspection.kind === 'other') throw new LoadError(`fixupMap handed in fd ${handedIn}, which is not a BPF map`, context);
  if (inspection.kind === 'unreadable') {
    throw new LoadError(`cannot read what the map fixupMap handed in (fd ${handedIn}) is`, context, { cause: inspection.cause });
  }
  const differences = mapMismatches(def, inspection.info, `fd ${handedIn}`, ['type', 'key_size', 'value_size']);
  if (differences.length) {
    throw new LoadError(`fixupMap handed in a map that does not match the definition: ${differences.join(', ')}`, context, {
      hint: "the object's programs were compiled for the definition's type and sizes",
    });
  }
  return { ...def, max_entries: inspection.info.max_entries, map_flags: inspection.info.map_flags };
}

function hintOption(hint: string | undefined): { hint?: string } {
  return hint === undefined ? {} : { hint };
}

/** Which field most likely made the kernel say no, for EINVAL / E2BIG. */
function diagnoseMapCreate(def: MapDef, cause: unknown): string | undefined {
  if (!(cause instanceof SyscallError)) return undefined;
  if (cause.errno === errno.EINVAL) {
    if (def.type === 0) return 'type is 0 (BPF_MAP_TYPE_UNSPEC): the definition is empty or was zeroed';
    if (def.type > BPF_MAP_TYPE.ARENA) return `map type ${def.type} is unknown to this kernel`;
    if (STORAGE_TYPES.has(def.type)) {
      if (def.max_entries !== 0) {
        return `a ${mapTypeName(def.type)} map must have max_entries 0 (it holds one value per object it is attached to), not ${def.max_entries}`;
      }
      return `a ${mapTypeName(def.type)} map needs map_flags BPF_F_NO_PREALLOC (1) and BTF for its key and value, which a samples-style object does not give`;
    }
    if (def.max_entries === 0) return 'max_entries is 0';
    if (def.key_size === 0 && def.type !== BPF_MAP_TYPE.QUEUE && def.type !== BPF_MAP_TYPE.STACK) return 'key_size is 0';
    if (def.value_size === 0 && !isMapInMapType(def.type)) return 'value_size is 0';
    if ((def.type === BPF_MAP_TYPE.ARRAY || def.type === BPF_MAP_TYPE.PERCPU_ARRAY || def.type === BPF_MAP_TYPE.PROG_ARRAY) &&
        def.key_size !== 4) {
      return `an array's key_size must be 4, not ${def.key_size}`;
    }
    if ((def.type === BPF_MAP_TYPE.PROG_ARRAY || def.type === BPF_MAP_TYPE.PERF_EVENT_ARRAY) && def.value_size !== 4) {
      return `a ${mapTypeName(def.type)} map's value_size must be 4, not ${def.value_size}`;
    }
    if (def.map_flags & BPF_F_NUMA_NODE) return `numa_node ${def.numa_node} may not exist on this machine`;
    if (def.map_flags !== 0) return `map_flags 0x${def.map_flags.toString(16)} may not be valid for map type ${mapTypeName(def.type)}`;
    return `key_size ${def.key_size}, value_size ${def.value_size} or max_entries ${def.max_entries} may not suit map type ${mapTypeName(def.type)}`;
  }
  if (cause.errno === errno.E2BIG) {
    return `key_size ${def.key_size} or value_size ${def.value_size} is larger than this map type allows`;
  }
  return undefined;
}
