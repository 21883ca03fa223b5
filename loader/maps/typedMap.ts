import { BPF_ANY, errno } from '../../syscall/index.js';
import type { Codec } from './codecs.js';
import { MapError, argumentError } from '../errors.js';
import { elementFailed, encodeRefused } from './elementErrors.js';
import { viewOf, type MapCore } from './mapCore.js';
import { walkChunks, type MapChunk } from './mapWalk.js';
import { clearAll, deleteKeys, drainChunks, updateEntries } from './mapBatch.js';

export type { MapChunk } from './mapWalk.js';

/**
 * A map seen through a key codec and a value codec: a view over the map's
 * core (its fd, shape and scratch memory), which the BpfMap handle owns.
 * Every operation is synchronous and one bpf(2) call (walks: one per chunk,
 * see mapWalk.ts; batches: mapBatch.ts). map.typed(k, v) and map.perCpu(k, v)
 * make typed views, map.raw the view in Buffers; all share the handle's fd
 * and end when it is closed.
 */
export class TypedMap<K, V, KIn = K, VIn = V> {
  readonly #core: MapCore;
  readonly #key: Codec<K, KIn>;
  readonly #value: Codec<V, VIn>;

  constructor(core: MapCore, key: Codec<K, KIn>, value: Codec<V, VIn>) {
    if (key.size !== core.shape.keySize) {
      throw new MapError(core.name, `key codec ${key.name} is ${key.size} bytes, the map's key_size is ${core.shape.keySize}`, {
        code: 'BPF_LOAD_MAP_SIZE',
      });
    }
    if (value.size !== core.valueBytes) {
      const perCpu = core.perCpu
        ? ` (per-CPU: ${core.cpus} possible CPUs × ${core.valueStride} bytes; use map.perCpu(keyCodec, valueCodec))`
        : '';
      throw new MapError(
        core.name,
        `value codec ${value.name} is ${value.size} bytes, the map's values are ${core.valueBytes}${perCpu}`,
        { code: 'BPF_LOAD_MAP_SIZE' },
      );
    }
    this.#core = core;
    this.#key = key;
    this.#value = value;
  }

  get keyCodec(): Codec<K, KIn> {
    return this.#key;
  }

  get valueCodec(): Codec<V, VIn> {
    return this.#value;
  }

  /** The value stored under `key`, or undefined when there is none. flags: 0, or BPF_F_LOCK for a value with a bpf_spin_lock. */
  lookup(key: KIn, flags = 0): V | undefined {
    if (!this.#find(key, flags)) return undefined;
    const elem = this.#core.elem;
    return this.#value.decode(elem.value, elem.valueView, 0);
  }

  /**
   * Look up `key` into the caller's `out` (exactly the map's value bytes, raw
   * kernel layout: per-CPU maps get every CPU's slot) without allocating:
   * true when found, false (and `out` untouched) when not. For hot loops that
   * read the same map again and again.
   */
  lookupInto(key: KIn, out: Uint8Array, flags = 0): boolean {
    const core = this.#core;
    if (!(out instanceof Uint8Array) || out.byteLength !== core.valueBytes) this.#badOut('lookupInto', out, 'values', core.valueBytes);
    if (!this.#find(key, flags)) return false;
    out.set(core.elem.value);
    return true;
  }

  /** BPF_MAP_LOOKUP_ELEM of `key` into the scratch value: false when there is no such key. */
  #find(key: KIn, flags: number): boolean {
    const core = this.#core;
    const fd = core.fd;
    const elem = core.elem;
    checkFlags(flags, 'lookup');
    this.#writeKey(key, elem.key, elem.keyView);
    const ret = elem.mapLookupElem(fd, flags);
    if (ret === -errno.ENOENT) return false;
    if (ret < 0) throw elementFailed(this.#core, 'lookup', ret, elem.key);
    return true;
  }

  #badOut(where: string, out: unknown, what: 'values' | 'keys', size: number): never {
    const core = this.#core;
    if (!(out instanceof Uint8Array)) {
      throw new MapError(core.name, `${where}: out must be a Uint8Array or Buffer of ${size} bytes, not ${typeof out}`, {
        code: 'BPF_LOAD_ARGUMENT',
      });
    }
    const perCpu = what === 'values' && core.perCpu;
    const expected = what === 'values' ? `values are ${size}` : `key_size is ${size}`;
    throw new MapError(core.name, `${where}: out is ${out.byteLength} bytes, the map's ${expected}`, {
      code: 'BPF_LOAD_MAP_SIZE',
      ...(perCpu ? { hint: `a per-CPU value is ${core.cpus} possible CPUs × ${core.valueStride} bytes: allocate map.valueBytes` } : {}),
    });
  }

  has(key: KIn): boolean {
    return this.#find(key, 0);
  }

  /**
   * Store `value` under `key`. flags: BPF_ANY (create or replace), BPF_NOEXIST
   * (create only: an existing key throws code BPF_LOAD_MAP_KEY_EXISTS),
   * BPF_EXIST (replace only: a missing key throws BPF_LOAD_MAP_KEY_MISSING).
   */
  update(key: KIn, value: VIn, flags: number = BPF_ANY): void {
    checkFlags(flags, 'update');
    const core = this.#core;
    const fd = core.fd;
    const elem = core.elem;
    this.#writeKey(key, elem.key, elem.keyView);
    this.#writeValue(value, elem.value, elem.valueView);
    const ret = elem.mapUpdateElem(fd, flags);
    if (ret < 0) throw elementFailed(this.#core, 'update', ret, elem.key, flags);
  }

  /** Delete `key`; false when it was not there. */
  delete(key: KIn): boolean {
    const core = this.#core;
    const fd = core.fd;
    const elem = core.elem;
    this.#writeKey(key, elem.key, elem.keyView);
    const ret = elem.mapDeleteElem(fd);
    if (ret === 0) return true;
    if (ret === -errno.ENOENT) return false;
    throw elementFailed(this.#core, 'delete', ret, elem.key);
  }

  /**
   * The key after `key`, the first key without one, undefined at the end.
   * For a hash map a `key` that is not in the map gives the first key.
   */
  getNextKey(key?: KIn): K | undefined {
    if (!this.#next(key)) return undefined;
    const elem = this.#core.elem;
    return this.#key.decode(elem.nextKey, elem.nextKeyView, 0);
  }

  /**
   * getNextKey() into the caller's `out` (exactly the map's key_size bytes,
   * raw kernel layout) without allocating: true when there is a next key, now
   * in `out`; false at the end (`out` untouched). `out` may be the very
   * buffer passed as `key`, to walk the keys in place.
   */
  getNextKeyInto(key: KIn | undefined, out: Uint8Array): boolean {
    const core = this.#core;
    const { keySize } = core.shape;
    if (!(out instanceof Uint8Array) || out.byteLength !== keySize) this.#badOut('getNextKeyInto', out, 'keys', keySize);
    if (!this.#next(key)) return false;
    out.set(core.elem.nextKey);
    return true;
  }

  /** BPF_MAP_GET_NEXT_KEY after `key` (the first key without one) into the scratch next key: false at the end. */
  #next(key: KIn | undefined): boolean {
    const core = this.#core;
    const elem = core.elem;
    if (key !== undefined) this.#writeKey(key, elem.key, elem.keyView);
    const ret = elem.mapGetNextKey(core.fd, key === undefined);
    if (ret === -errno.ENOENT) return false;
    if (ret < 0) throw elementFailed(core, 'get_next_key', ret, key === undefined ? undefined : elem.key);
    return true;
  }

  /** Look up and delete in one step (hash maps: Linux 5.14+; queue/stack maps: pop). */
  lookupAndDelete(key: KIn): V | undefined {
    const core = this.#core;
    const fd = core.fd;
    const elem = core.elem;
    if (core.shape.keySize > 0) this.#writeKey(key, elem.key, elem.keyView);
    const ret = elem.mapLookupAndDeleteElem(fd);
    if (ret === -errno.ENOENT) return undefined;
    if (ret < 0) throw elementFailed(this.#core, 'lookup_and_delete', ret, core.shape.keySize > 0 ? elem.key : undefined);
    return this.#value.decode(elem.value, elem.valueView, 0);
  }

  /** Queue/stack maps (key_size 0): add a value; BPF_EXIST makes a full queue drop its oldest value. */
  push(value: VIn, flags: number = BPF_ANY): void {
    checkFlags(flags, 'push');
    const core = this.#keyless('push');
    const fd = core.fd;
    const elem = core.elem;
    this.#writeValue(value, elem.value, elem.valueView);
    const ret = elem.mapUpdateElem(fd, flags);
    if (ret < 0) throw elementFailed(this.#core, 'update', ret, undefined, flags);
  }

  /** Queue/stack maps: remove and return the next value, undefined when empty. */
  pop(): V | undefined {
    const core = this.#keyless('pop');
    const fd = core.fd;
    const elem = core.elem;
    const ret = elem.mapLookupAndDeleteElem(fd);
    if (ret === -errno.ENOENT) return undefined;
    if (ret < 0) throw elementFailed(this.#core, 'lookup_and_delete', ret, undefined);
    return this.#value.decode(elem.value, elem.valueView, 0);
  }

  /** Queue/stack maps: the next value without removing it, undefined when empty. */
  peek(): V | undefined {
    const core = this.#keyless('peek');
    const fd = core.fd;
    const elem = core.elem;
    const ret = elem.mapLookupElem(fd);
    if (ret === -errno.ENOENT) return undefined;
    if (ret < 0) throw elementFailed(this.#core, 'lookup', ret, undefined);
    return this.#value.decode(elem.value, elem.valueView, 0);
  }

  #keyless(what: string): MapCore {
    const core = this.#core;
    if (core.shape.keySize !== 0) {
      throw new MapError(core.name, `${what}() is for queue and stack maps (key_size 0), this is ${core.describe()}`);
    }
    return core;
  }

  /**
   * Every key. Survives entries being deleted while it walks (by the loop
   * body or anyone else): a key is never yielded twice, and a walk that keeps
   * being sent back to the start gives up with an error instead of looping.
   */
  *keys(): Generator<K, void, undefined> {
    for (const chunk of this.chunks(false)) {
      for (let i = 0; i < chunk.count; i++) yield this.#key.decode(chunk.keys, chunk.keysView, i * chunk.keySize);
    }
  }

  /** Every [key, value], with the guarantees of keys(). Values are read chunk by chunk, not at the moment of the yield. */
  *entries(): Generator<[K, V], void, undefined> {
    for (const chunk of this.chunks(true)) {
      for (let i = 0; i < chunk.count; i++) {
        yield [
          this.#key.decode(chunk.keys, chunk.keysView, i * chunk.keySize),
          this.#value.decode(chunk.values, chunk.valuesView, i * chunk.valueSize),
        ];
      }
    }
  }

  *values(): Generator<V, void, undefined> {
    for (const chunk of this.chunks(true)) {
      for (let i = 0; i < chunk.count; i++) yield this.#value.decode(chunk.values, chunk.valuesView, i * chunk.valueSize);
    }
  }

  [Symbol.iterator](): Generator<[K, V], void, undefined> {
    return this.entries();
  }

  /** Call `visit` for every entry, decoded; return false from it to stop. No generator per entry. */
  forEach(visit: (key: K, value: V) => void | boolean): void {
    const keyCodec = this.#key;
    const valueCodec = this.#value;
    for (const chunk of this.chunks(true)) {
      for (let i = 0; i < chunk.count; i++) {
        const key = keyCodec.decode(chunk.keys, chunk.keysView, i * chunk.keySize);
        if (visit(key, valueCodec.decode(chunk.values, chunk.valuesView, i * chunk.valueSize)) === false) return;
      }
    }
  }

  /** Number of entries (a walk). */
  count(): number {
    let n = 0;
    for (const chunk of this.chunks(false)) n += chunk.count;
    return n;
  }

  /**
   * The whole map as chunks in kernel layout: BPF_MAP_LOOKUP_BATCH where the
   * kernel and map type have it, else get_next_key + lookup. The buffers are
   * reused from chunk to chunk.
   */
  chunks(withValues = true): Generator<MapChunk, void, undefined> {
    return walkChunks(this.#core, withValues);
  }

  /**
   * Store many entries: BPF_MAP_UPDATE_BATCH in chunks (one syscall per
   * chunk), or one update per entry where the kernel lacks it. Returns how
   * many were written. flags as for update().
   */
  updateBatch(entries: Iterable<readonly [KIn, VIn]>, flags: number = BPF_ANY): number {
    checkFlags(flags, 'updateBatch');
    const core = this.#core;
    const list = listOf<readonly [KIn, VIn]>(entries, 'updateBatch', 'entries');
    const { keySize } = core.shape;
    return updateEntries(core, list.length, flags, (batch, start, n) => {
      const keysView = viewOf(batch.keys);
      const valuesView = viewOf(batch.values);
      for (let i = 0; i < n; i++) {
        const [key, value] = pairAt(list, start + i);
        this.#writeKey(key, batch.keys, keysView, i * keySize);
        this.#writeValue(value, batch.values, valuesView, i * core.valueBytes);
      }
    }, (index) => {
      const [key, value] = pairAt(list, index);
      this.update(key, value, flags);
    });
  }

  /** Delete many keys (BPF_MAP_DELETE_BATCH, or one by one). Missing keys are skipped; returns how many were deleted. */
  deleteBatch(keys: Iterable<KIn>): number {
    const core = this.#core;
    const list = listOf<KIn>(keys, 'deleteBatch', 'keys');
    const { keySize } = core.shape;
    const raw = Buffer.alloc(list.length * keySize);
    const view = viewOf(raw);
    for (let i = 0; i < list.length; i++) this.#writeKey(list[i]!, raw, view, i * keySize);
    return deleteKeys(core, raw, list.length);
  }

  /** Delete every entry and return them (BPF_MAP_LOOKUP_AND_DELETE_BATCH, or walk + delete); refused for arrays. */
  drain(): [K, V][] {
    const out: [K, V][] = [];
    drainChunks(this.#core, (chunk) => {
      for (let i = 0; i < chunk.count; i++) {
        out.push([
          this.#key.decode(chunk.keys, chunk.keysView, i * chunk.keySize),
          this.#value.decode(chunk.values, chunk.valuesView, i * chunk.valueSize),
        ]);
      }
    });
    return out;
  }

  /** Delete every entry; returns how many were deleted. Refused for arrays, whose entries cannot be deleted. */
  clear(): number {
    return clearAll(this.#core);
  }

  #writeKey(key: KIn, bytes: Buffer, view: DataView, offset = 0): void {
    writeEncoded(this.#core, 'key', this.#key, key, bytes, view, offset);
  }

  #writeValue(value: VIn, bytes: Buffer, view: DataView, offset = 0): void {
    writeEncoded(this.#core, 'value', this.#value, value, bytes, view, offset);
  }
}

/** Encode a key or value into the kernel's layout at `offset`; one the codec refuses is a MapError naming the map. */
export function writeEncoded<In>(
  core: MapCore, what: 'key' | 'value', codec: Codec<unknown, In>, value: In, bytes: Buffer, view: DataView, offset = 0,
): void {
  try {
    codec.encode(value, bytes, view, offset);
  } catch (error) {
    throw encodeRefused(core, what, value, codec as Codec<unknown, never>, what === 'key' ? core.shape.keySize : core.valueBytes, error);
  }
}

/** An iterable argument as an array; anything else is refused naming it. */
function listOf<T>(items: Iterable<T>, where: string, name: string): readonly T[] {
  if (Array.isArray(items)) return items as readonly T[];
  if (items === null || typeof (items as { [Symbol.iterator]?: unknown })?.[Symbol.iterator] !== 'function') {
    throw argumentError(where, name, 'an iterable (an array, a Map, a generator)', items);
  }
  return [...items];
}

function pairAt<K, V>(list: readonly (readonly [K, V])[], index: number): readonly [K, V] {
  const entry = list[index];
  if (!Array.isArray(entry) || entry.length !== 2) throw argumentError('updateBatch', `entries[${index}]`, 'a [key, value] pair', entry);
  return entry as readonly [K, V];
}

/** One comparison on the hot path: NaN, strings, fractions, negatives and numbers past 32 bits all differ from their u32. */
export function checkFlags(flags: number, where: string): void {
  if ((flags >>> 0) !== flags) {
    throw argumentError(where, 'flags', 'an unsigned 32-bit integer: BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK', flags);
  }
}
