import { mapOrder, type ObjectSpec } from '../../elf/index.js';
import { BPF_F_NUMA_NODE, isMapInMapType, mapTypeName } from '../../syscall/index.js';
import type { BpfObject } from '../load/bpfObject.js';
import { localBtfOf } from '../load/coreStep.js';
import { typeName } from '../maps/btfCodec.js';

/** One row per map, the same fields for --dry-run (spec only) and a real load (plus fd and id). */
export interface MapRow {
  index: number;
  name: string;
  type: string;
  key_size: number;
  value_size: number;
  max_entries: number;
  map_flags: number;
  offset: number;
  inner_map_idx?: number;
  numa_node?: number;
  /** the tc convention's struct bpf_elf_map fields */
  tc?: { id: number; pinning: number; inner_id: number; inner_idx: number };
  fd?: number;
  id?: number;
  /** where --pin (or the tc convention) pinned it, or the pin it reused */
  pinned?: string;
  /** the C types of key and value in the object's BTF (`struct flow_key`), for a map with them (once loaded: made with them) */
  key_type?: string;
  value_type?: string;
}

/** key_type/value_type of a row: the names of BTF type ids of the object's BTF, those that are not 0. */
function btfTypeNames(spec: ObjectSpec, keyTypeId: number, valueTypeId: number): Pick<MapRow, 'key_type' | 'value_type'> {
  if (!spec.btf || (keyTypeId === 0 && valueTypeId === 0)) return {};
  const btf = localBtfOf(spec);
  return {
    ...(keyTypeId !== 0 ? { key_type: typeName(btf, keyTypeId) } : {}),
    ...(valueTypeId !== 0 ? { value_type: typeName(btf, valueTypeId) } : {}),
  };
}

export function mapRowsFromSpec(spec: ObjectSpec): MapRow[] {
  const maps = mapOrder(spec);
  const indexOf = new Map(maps.map((m, i) => [m.name, i]));
  return maps.map((map, index) => {
    const source = map.source.kind === 'maps' ? map.source : undefined;
    const tc = source?.raw.tc;
    const innerIndex = map.innerMap === undefined ? source?.raw.innerMapIdx ?? 0 : indexOf.get(map.innerMap) ?? 0;
    return {
      index,
      name: map.name,
      type: mapTypeName(map.type),
      key_size: map.keySize,
      value_size: map.valueSize,
      max_entries: map.maxEntries,
      map_flags: map.flags,
      offset: source?.offset ?? -1,
      ...(isMapInMapType(map.type) ? { inner_map_idx: innerIndex } : {}),
      ...(map.flags & BPF_F_NUMA_NODE ? { numa_node: map.numaNode ?? 0 } : {}),
      ...(tc ? { tc: { id: tc.id, pinning: tc.pinning, inner_id: tc.innerId, inner_idx: tc.innerIdx } } : {}),
      ...btfTypeNames(spec, map.btf?.keyTypeId ?? 0, map.btf?.valueTypeId ?? 0),
    };
  });
}

export function mapRowsFromObject(object: BpfObject): MapRow[] {
  const fromSpec = mapRowsFromSpec(object.spec);
  return object.maps.map((map, i) => {
    const { key_type: _key, value_type: _value, ...row } = fromSpec[i]!;
    const info = map.info;
    // the types the kernel took (none for the map types libbpf makes without BTF, or with a refused BTF); a
    // reused pin made from another BTF has other ids, and no names from this one
    const spec = object.spec.maps[map.name]?.btf;
    const same = info.btf_id !== 0 && spec !== undefined && spec.keyTypeId === info.btf_key_type_id && spec.valueTypeId === info.btf_value_type_id;
    return {
      ...row,
      // after fixupMap and with the kernel's word on what it made
      type: mapTypeName(info.type),
      key_size: info.key_size,
      value_size: info.value_size,
      max_entries: info.max_entries,
      map_flags: info.map_flags,
      fd: map.fd,
      id: info.id,
      ...(map.pinPath !== undefined ? { pinned: map.pinPath } : {}),
      ...(same ? btfTypeNames(object.spec, info.btf_key_type_id, info.btf_value_type_id) : {}),
    };
  });
}

/** A plain aligned text table; numbers right-aligned. */
export function renderTable(headers: string[], rows: (string | number)[][]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (cells: (string | number)[]) =>
    cells
      .map((cell, c) => (typeof cell === 'number' ? String(cell).padStart(widths[c]!) : String(cell).padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function renderMapTable(rows: MapRow[], loaded: boolean): string {
  if (rows.length === 0) return 'maps: none';
  const headers = ['#', 'name', 'type', 'key', 'value', 'max_entries', 'flags'];
  const tc = rows.some((r) => r.tc);
  if (tc) headers.push('pinning', 'tc_id', 'inner_id', 'inner_idx');
  if (loaded) headers.push('fd', 'id');
  const body = rows.map((r) => {
    const cells: (string | number)[] = [r.index, r.name, r.type, r.key_size, r.value_size, r.max_entries, `0x${r.map_flags.toString(16)}`];
    if (tc) {
      const t = r.tc ?? { id: 0, pinning: 0, inner_id: 0, inner_idx: 0 };
      cells.push(pinningName(t.pinning), t.id, t.inner_id, t.inner_idx === 0xffffffff ? '-' : t.inner_idx);
    }
    if (loaded) cells.push(r.fd ?? '', r.id ?? '');
    return cells;
  });
  return `maps (${rows.length}):\n${renderTable(headers, body)}`;
}

/** iproute2's names for bpf_elf_map.pinning (PIN_NONE, PIN_OBJECT_NS, PIN_GLOBAL_NS; above 2: bpf_pinning ids). */
function pinningName(pinning: number): string {
  return ['none', 'object', 'global'][pinning] ?? `custom ${pinning}`;
}
