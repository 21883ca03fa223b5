// The BTF key and value types of a live map, when the object it was loaded
// from declares them: what map.typed() without codecs builds its codecs from.
// Set by the loader; the Btf is parsed on first use, not at load.

import type { Btf } from '../../elf/btf/index.js';

export interface MapBtfTypes {
  /** the object's BTF, parsed when first asked for */
  readonly btf: () => Btf;
  /** 0 when the map declares no key type */
  readonly keyTypeId: number;
  /** 0 when the map declares no value type (ring buffers, perf event arrays) */
  readonly valueTypeId: number;
}

const types = new WeakMap<object, MapBtfTypes>();

/** Record the BTF types of `map` (the loader, for maps of an object with BTF). */
export function setMapBtf(map: object, source: MapBtfTypes): void {
  types.set(map, source);
}

/** The BTF types recorded for `map`, undefined when it has none. */
export function mapBtfOf(map: object): MapBtfTypes | undefined {
  return types.get(map);
}
