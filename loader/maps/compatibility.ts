import type { MapSpec } from '../../elf/index.js';
import type { MapDef } from '../options.js';
import { SyscallError, fdKind, isMapInMapType, mapGetInfo, mapTypeName, type MapInfo } from '../../syscall/index.js';

/**
 * When an existing map may stand for an object's definition: a map pinned
 * earlier (reuse, tc's shared maps), a map fd handed in by fixupMap, or any
 * fd opened as a map. One place decides what the kernel keeps of a
 * definition and how two of them are compared.
 */

export type { MapDef };

/** What a load compares of a map spec and a live map. */
export type MapSpecShape = Pick<MapSpec, 'type' | 'keySize' | 'valueSize' | 'maxEntries' | 'flags'>;

/** The fields of a map that the kernel keeps and iproute2 compares. */
export type MapIdentity = Pick<MapInfo, 'type' | 'key_size' | 'value_size' | 'max_entries' | 'map_flags'>;
export type MapIdentityField = keyof MapIdentity;

const ALL_FIELDS: readonly MapIdentityField[] = ['type', 'key_size', 'value_size', 'max_entries', 'map_flags'];

/** The value size the kernel gives a map of this definition: an outer map's value is a map fd, whatever the definition says. */
export function kernelValueSize(def: Pick<MapDef, 'type' | 'value_size'>): number {
  return isMapInMapType(def.type) ? 4 : def.value_size;
}

/** The fields the kernel keeps of a definition, as BPF_MAP_CREATE was (or would be) given them. */
export function effectiveDef(spec: MapSpecShape): MapIdentity {
  return {
    type: spec.type,
    key_size: spec.keySize,
    value_size: kernelValueSize({ type: spec.type, value_size: spec.valueSize }),
    max_entries: spec.maxEntries,
    map_flags: spec.flags,
  };
}

export type MapFdInspection =
  | { kind: 'map'; info: MapInfo }
  /** the fd is a bpf object of another kind (`bpf-prog`, `bpf-link`) or not a bpf object at all */
  | { kind: 'other'; what: string }
  | { kind: 'unreadable'; cause: SyscallError };

/** Is the fd a map at all, and if so what the kernel says it is. */
export function inspectMapFd(fd: number): MapFdInspection {
  const kind = fdKind(fd);
  // BPF_OBJ_GET_INFO_BY_FD answers for programs and links too: their info read as a map's is noise.
  // Without /proc (kind undefined) the kernel's answer is all there is.
  if (kind !== undefined && kind !== 'anon_inode:bpf-map') return { kind: 'other', what: kind.replace('anon_inode:', '') };
  try {
    return { kind: 'map', info: mapGetInfo(fd) };
  } catch (cause) {
    if (!(cause instanceof SyscallError)) throw cause;
    return { kind: 'unreadable', cause };
  }
}

/**
 * What differs between the map a definition asks for and a live map, one
 * phrase per field naming both sides, e.g.
 * `max_entries 1024 (object) != 512 (pinned at P)`.
 */
export function mapMismatches(
  def: MapSpecShape,
  live: MapIdentity,
  liveLabel: string,
  fields: readonly MapIdentityField[] = ALL_FIELDS,
): string[] {
  const want = effectiveDef(def);
  const differences: string[] = [];
  for (const field of fields) {
    if (want[field] === live[field]) continue;
    const show = (value: number) =>
      field === 'type' ? mapTypeName(value) : field === 'map_flags' ? `0x${value.toString(16)}` : String(value);
    differences.push(`${field} ${show(want[field])} (object) != ${show(live[field])} (${liveLabel})`);
  }
  return differences;
}
