import { mapTypeName } from '../../syscall/index.js';
import { bytes, checkCodec, type Codec } from './codecs.js';
import { MapError } from '../errors.js';
import type { MapCore } from './mapCore.js';
import { perCpuValues } from './perCpu.js';
import { TypedMap } from './typedMap.js';
import { btfCodec, type BtfCodec } from './btfCodec.js';
import type { MapBtfTypes } from './mapBtf.js';

/**
 * The decoded views a map handle makes over its core: which codecs a map
 * takes (its sizes, per-CPU or not, or its BTF types) is checked here once,
 * and the view shares the handle's fd.
 */

/** map.typed(k, v), or map.typed() with the codecs of the map's BTF key and value types (`btfTypes`). */
export function typedView(
  core: MapCore, key: Codec<unknown, never> | undefined, value: Codec<unknown, never> | undefined,
  btfTypes: MapBtfTypes | undefined,
): TypedMap<unknown, unknown, never, never> {
  const fromBtf = key === undefined && value === undefined;
  if (!fromBtf) {
    checkCodec(key, 'key', 'typed');
    checkCodec(value, 'value', 'typed');
  }
  if (core.perCpu) {
    throw new MapError(core.name, `is a ${mapTypeName(core.shape.type)} map: its values are one per possible CPU; use map.perCpu(keyCodec, valueCodec)`, {
      code: 'BPF_LOAD_MAP_SIZE',
    });
  }
  if (fromBtf) return new TypedMap(core, ...btfCodecs(core, btfTypes));
  return new TypedMap(core, key!, value!);
}

/** The key and value codecs from the map's BTF types. */
function btfCodecs(core: MapCore, types: MapBtfTypes | undefined): [BtfCodec, BtfCodec] {
  const missing = types === undefined
    ? 'it has no BTF key and value types (a legacy `maps` definition, an object without BTF, or a map opened by pin or fd)'
    : types.keyTypeId === 0 || types.valueTypeId === 0
      ? `its definition declares no BTF ${types.keyTypeId === 0 ? 'key' : 'value'} type`
      : undefined;
  if (missing !== undefined || types === undefined) {
    throw new MapError(core.name, `typed() without codecs needs the map's BTF types, and ${missing}`, {
      code: 'BPF_LOAD_ARGUMENT',
      hint: 'pass codecs: map.typed(keyCodec, valueCodec)',
    });
  }
  const btf = types.btf();
  return [btfCodec(btf, types.keyTypeId), btfCodec(btf, types.valueTypeId)];
}

/** map.perCpu(k, v): values as arrays of one value per possible CPU; Buffers where a codec is not given. */
export function perCpuView(
  core: MapCore, key: Codec<unknown, never> | undefined, value: Codec<unknown, never> | undefined,
): TypedMap<unknown, unknown[], never, never[]> {
  if (!core.perCpu) {
    throw new MapError(core.name, `is a ${mapTypeName(core.shape.type)} map, not a per-CPU map; use map.typed(keyCodec, valueCodec)`);
  }
  if (key !== undefined) checkCodec(key, 'key', 'perCpu');
  if (value !== undefined) checkCodec(value, 'value', 'perCpu');
  const element = value ?? bytes(core.shape.valueSize);
  if (element.size !== core.shape.valueSize) {
    throw new MapError(core.name, `value codec ${element.name} is ${element.size} bytes, the map's value_size is ${core.shape.valueSize}`, {
      code: 'BPF_LOAD_MAP_SIZE',
    });
  }
  return new TypedMap(core, key ?? bytes(core.shape.keySize), perCpuValues(element, core.cpus, core.valueStride));
}
