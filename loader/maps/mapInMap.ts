import { errno, isMapInMapType, mapTypeName } from '../../syscall/index.js';
import { u32 } from './codecs.js';
import { MapError, argumentError } from '../errors.js';
import { hexPreview } from './hexPreview.js';
import { viewOf, type MapCore } from './mapCore.js';
import type { RawMap } from './rawMap.js';

/**
 * Map-in-map from user space: an outer map's value is an inner map's fd when
 * written and its id when read. Keys are the key's bytes or, for key_size 4,
 * an index.
 */

export function requireOuter(core: MapCore, what: string): void {
  if (!isMapInMapType(core.shape.type)) {
    throw new MapError(core.name, `${what}() needs an array_of_maps or hash_of_maps map, this is ${mapTypeName(core.shape.type)}`);
  }
}

/** Put the map open at `fd` at `key` of the outer map; the kernel's refusal says what an inner map must match. */
export function putInner(core: MapCore, raw: RawMap, key: Uint8Array | number, fd: number, flags: number): void {
  requireOuter(core, 'setInner');
  const keyBytes = outerKey(core, key);
  const value = Buffer.alloc(4);
  u32.encode(fd, value, viewOf(value), 0);
  try {
    raw.update(keyBytes, value, flags);
  } catch (error) {
    if (!(error instanceof MapError && (error.errno === errno.EINVAL || error.errno === errno.EBADF))) throw error;
    const hint = error.errno === errno.EBADF
      ? `fd ${fd} is not an open file descriptor`
      : 'the inner map must match the template the outer map was created with: type, key_size, value_size, ' +
        'map_flags and (unless the template has BPF_F_INNER_MAP) max_entries';
    throw new MapError(core.name, `setInner: cannot put map fd ${fd} at key ${hexPreview(keyBytes)}`, {
      cause: error.cause, hint,
    });
  }
}

/** The kernel id of the inner map at `key` (what a lookup from user space returns), or undefined. */
export function innerIdAt(core: MapCore, raw: RawMap, key: Uint8Array | number): number | undefined {
  requireOuter(core, 'getInnerId');
  const value = raw.lookup(outerKey(core, key));
  return value === undefined ? undefined : u32.decode(value, viewOf(value), 0);
}

function outerKey(core: MapCore, key: Uint8Array | number): Uint8Array {
  if (key instanceof Uint8Array) return key;
  if (typeof key !== 'number' || (key >>> 0) !== key) throw argumentError(core.name, 'key', 'an index (an unsigned 32-bit integer) or the key\'s bytes', key);
  if (core.shape.keySize !== 4) {
    throw new MapError(core.name, `a number key needs key_size 4, this map's is ${core.shape.keySize}; pass the key's bytes`, {
      code: 'BPF_LOAD_MAP_SIZE',
    });
  }
  const bytes = Buffer.alloc(4);
  u32.encode(key, bytes, viewOf(bytes), 0);
  return bytes;
}
