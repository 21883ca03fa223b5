// A live map's BTF as the kernel holds it: the btf_id, btf_key_type_id and
// btf_value_type_id of its bpf_map_info, the BTF read back by id. What bpftool
// reads to print a pinned map's "formatted" values, and what lets map.typed()
// without codecs work on a map opened by pin, fd or id, made by any loader.

import { parseBtf, type Btf } from '../../elf/btf/index.js';
import { btfGetData, btfGetFdById } from '../../syscall/index.js';
import { MapError } from '../errors.js';
import type { BpfMap } from './bpfMap.js';
import { mapBtfOf, setMapBtf, type MapBtfTypes } from './mapBtf.js';

/** The kernel's BTF of a map, with the type ids it was created with. */
export interface KernelMapBtf extends MapBtfTypes {
  /** the BTF object's kernel id (`bpftool btf show id N`) */
  readonly btfId: number;
}

/**
 * The BTF types of `map`: those the loader recorded for a map it made from an
 * object, else the kernel's (its btf_id read back, parsed), which are then
 * recorded so that `map.typed()` without codecs decodes by them. undefined
 * when the map was created without BTF key or value types. A BTF the kernel
 * will not hand over, or cannot be parsed, is a MapError naming the BTF id.
 */
export function mapBtfTypes(map: BpfMap): MapBtfTypes | undefined {
  const known = mapBtfOf(map);
  if (known) return known;
  const read = kernelMapBtf(map);
  if (read) setMapBtf(map, read);
  return read;
}

/** The kernel's BTF of `map` (see mapBtfTypes), read afresh; undefined when it has none. */
export function kernelMapBtf(map: BpfMap): KernelMapBtf | undefined {
  const info = map.info;
  if (info.btf_id === 0 || (info.btf_key_type_id === 0 && info.btf_value_type_id === 0)) return undefined;
  let btf: Btf;
  try {
    const fd = btfGetFdById(info.btf_id);
    try {
      btf = parseBtf(btfGetData(fd.fd), { file: `BTF id ${info.btf_id}` });
    } finally {
      fd.close();
    }
  } catch (cause) {
    throw new MapError(map.name, `cannot read its BTF (id ${info.btf_id}) from the kernel`, { cause });
  }
  return { btf: () => btf, btfId: info.btf_id, keyTypeId: info.btf_key_type_id, valueTypeId: info.btf_value_type_id };
}
