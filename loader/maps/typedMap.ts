import { BPF_ANY, BPF_MAP_TYPE, errno, type MapBatchOps } from '../../syscall/index.js';
import type { Codec } from './codecs.js';
import { MapError, argumentError } from '../errors.js';
import { elementFailed, encodeRefused } from './elementErrors.js';
import { viewOf, type MapCore } from './mapCore.js';

/** One chunk of entries, back to back in `keys` / `values` (kernel layout). Valid until the walk moves on. */
export interface MapChunk {
  readonly keys: Buffer;
  readonly keysView: DataView;
  readonly values: Buffer;
  readonly valuesView: DataView;
  readonly count: number;
  readonly keySize: number;
  /** bytes per value in `values` (per-CPU maps: cpus × round_up(value_size, 8)) */
  readonly valueSize: number;
}

/** Entries per batch call when walking: big enough to amortise the syscall, small enough to stay in cache. */
const WALK_CHUNK = 4096;
/** Entries per chunk when walking with get_next_key */
const FALLBACK_CHUNK = 64;

const BATCH_UNSUPPORTED = new Set<number>([errno.EINVAL, errno.ENOTSUPP, errno.EOPNOTSUPP]);

/**
 * A map seen through a key codec and a value codec. Every operation is
 * synchronous and one bpf(2) call (walks: one per chunk). BpfMap is the raw
 * view (Buffers); map.typed(k, v) and map.perCpu(k, v) make others sharing
 * the same fd.
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
    this.writeKey(key, elem.key, elem.keyView);
    const ret = elem.lookup(fd, flags);
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
    this.writeKey(key, elem.key, elem.keyView);
    this.#writeValue(value, elem.value, elem.valueView);
    const ret = elem.update(fd, flags);
    if (ret < 0) throw elementFailed(this.#core, 'update', ret, elem.key, flags);
  }

  /** Delete `key`; false when it was not there. */
  delete(key: KIn): boolean {
    const core = this.#core;
    const fd = core.fd;
    const elem = core.elem;
    this.writeKey(key, elem.key, elem.keyView);
    const ret = elem.delete(fd);
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
    if (key !== undefined) this.writeKey(key, elem.key, elem.keyView);
    const ret = elem.getNextKey(core.fd, key === undefined);
    if (ret === -errno.ENOENT) return false;
    if (ret < 0) throw elementFailed(core, 'get_next_key', ret, key === undefined ? undefined : elem.key);
    return true;
  }

  /** Look up and delete in one step (hash maps: Linux 5.14+; queue/stack maps: pop). */
  lookupAndDelete(key: KIn): V | undefined {
    const core = this.#core;
    const fd = core.fd;
    const elem = core.elem;
    if (core.shape.keySize > 0) this.writeKey(key, elem.key, elem.keyView);
    const ret = elem.lookupAndDelete(fd);
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
    const ret = elem.update(fd, flags);
    if (ret < 0) throw elementFailed(this.#core, 'update', ret, undefined, flags);
  }

  /** Queue/stack maps: remove and return the next value, undefined when empty. */
  pop(): V | undefined {
    const core = this.#keyless('pop');
    const fd = core.fd;
    const elem = core.elem;
    const ret = elem.lookupAndDelete(fd);
    if (ret === -errno.ENOENT) return undefined;
    if (ret < 0) throw elementFailed(this.#core, 'lookup_and_delete', ret, undefined);
    return this.#value.decode(elem.value, elem.valueView, 0);
  }

  /** Queue/stack maps: the next value without removing it, undefined when empty. */
  peek(): V | undefined {
    const core = this.#keyless('peek');
    const fd = core.fd;
    const elem = core.elem;
    const ret = elem.lookup(fd);
    if (ret === -errno.ENOENT) return undefined;
    if (ret < 0) throw elementFailed(this.#core, 'lookup', ret, undefined);
    return this.#value.decode(elem.value, elem.valueView, 0);
  }

  /** Queue and stack maps have no keys: get_next_key and the batch commands refuse them with a bare EINVAL. */
  #walkable(what: string): MapCore {
    const core = this.#core;
    if (core.shape.keySize === 0) {
      throw new MapError(core.name, `cannot ${what} a map without keys (${core.describe()})`, {
        code: 'BPF_LOAD_MAP_NOT_WALKABLE',
        hint: 'a queue or stack map is read with peek() and emptied with pop()',
      });
    }
    return core;
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
  *chunks(withValues = true): Generator<MapChunk, void, undefined> {
    const core = this.#walkable('walk');
    if (core.batchSupported.lookup !== false) {
      const first = this.#batchChunks(false);
      const step = first.next();
      if (step.value !== 'unsupported') {
        if (step.done) return;
        yield step.value;
        yield* first as Generator<MapChunk, void, undefined>;
        return;
      }
    }
    yield* this.#nextKeyChunks(withValues);
  }

  *#batchChunks(andDelete: boolean): Generator<MapChunk | 'unsupported', void, undefined> {
    const core = this.#core;
    const kind = andDelete ? 'lookupAndDelete' : 'lookup';
    let batch: MapBatchOps = core.newBatch(Math.min(WALK_CHUNK, Math.max(core.shape.maxEntries, 1)));
    let chunk = chunkOf(batch, core);
    let first = true;
    const seen = core.batchRestarts ? new SeenKeys(core) : undefined;
    for (;;) {
      const ret = batch.lookup(core.fd, first, batch.capacity, andDelete);
      if (ret < 0 && ret !== -errno.ENOENT) {
        if (first && core.batchSupported[kind] === undefined && BATCH_UNSUPPORTED.has(-ret)) {
          core.batchSupported[kind] = false;
          yield 'unsupported';
          return;
        }
        if (ret === -errno.ENOSPC && batch.count === 0) {
          // a hash bucket holds more entries than fit: grow and retry from the same cursor
          const bigger = core.newBatch(batch.capacity * 4);
          if (!first) bigger.resumeFrom(batch);
          batch = bigger;
          chunk = chunkOf(batch, core);
          continue;
        }
        throw elementFailed(this.#core, andDelete ? 'lookup_and_delete_batch' : 'lookup_batch', ret, undefined);
      }
      core.batchSupported[kind] = true;
      first = false;
      const count = seen ? seen.keep(batch.keys, batch.values, batch.count, core.shape.keySize, core.valueBytes) : batch.count;
      if (count > 0) yield { ...chunk, count };
      if (ret === -errno.ENOENT) return;
    }
  }

  *#nextKeyChunks(withValues: boolean): Generator<MapChunk, void, undefined> {
    const core = this.#core;
    const { keySize } = core.shape;
    const valueSize = core.valueBytes;
    const keys = Buffer.alloc(keySize * FALLBACK_CHUNK);
    const values = Buffer.alloc(valueSize * FALLBACK_CHUNK);
    const keysView = viewOf(keys);
    const valuesView = viewOf(values);
    // keys already yielded, only where deletion can send get_next_key back to the first key
    const seen = core.fixedKeys ? undefined : new SeenKeys(core);
    // The key to continue from is always one fetched but not yet yielded: a
    // loop body that deletes what it is given never deletes the walk's position.
    const carry = Buffer.alloc(keySize);
    let elem = core.elem;
    let ret = elem.getNextKey(core.fd, true);
    if (ret === -errno.ENOENT) return;
    if (ret < 0) throw elementFailed(this.#core, 'get_next_key', ret, undefined);
    elem.nextKey.copy(carry);
    let haveCarry = true;
    while (haveCarry) {
      let count = 0;
      while (count < FALLBACK_CHUNK && haveCarry) {
        const fd = core.fd;
        elem = core.elem;
        const at = count * keySize;
        carry.copy(keys, at);
        carry.copy(elem.key);
        ret = elem.getNextKey(fd, false);
        if (ret === -errno.ENOENT) haveCarry = false;
        else if (ret < 0) throw elementFailed(this.#core, 'get_next_key', ret, elem.key);
        else elem.nextKey.copy(carry);
        if (seen && !seen.first(keys, at, keySize)) continue;
        if (withValues) {
          keys.copy(elem.key, 0, at, at + keySize);
          const found = elem.lookup(fd);
          if (found === -errno.ENOENT) continue; // deleted between the two calls
          if (found < 0) throw elementFailed(this.#core, 'lookup', found, elem.key);
          elem.value.copy(values, count * valueSize);
        }
        count++;
      }
      if (count > 0) yield { keys, keysView, values, valuesView, count, keySize, valueSize };
    }
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
    if (list.length === 0) return 0;
    const batch = core.newBatch(Math.min(list.length, WALK_CHUNK));
    const keysView = viewOf(batch.keys);
    const valuesView = viewOf(batch.values);
    const { keySize } = core.shape;
    let written = 0;
    for (let start = 0; start < list.length; start += batch.capacity) {
      const n = Math.min(batch.capacity, list.length - start);
      for (let i = 0; i < n; i++) {
        const [key, value] = pairAt(list, start + i);
        this.writeKey(key, batch.keys, keysView, i * keySize);
        this.#writeValue(value, batch.values, valuesView, i * core.valueBytes);
      }
      if (core.batchSupported.update !== false) {
        const ret = batch.update(core.fd, n, flags);
        if (ret === 0) {
          core.batchSupported.update = true;
          written += n;
          continue;
        }
        // an unsupported command fails before the kernel touches attr.batch.count
        if (!(core.batchSupported.update === undefined && written === 0 && BATCH_UNSUPPORTED.has(-ret))) {
          const failedAt = batch.count;
          throw elementFailed(this.#core, 'update_batch', ret, batch.keys.subarray(failedAt * keySize, (failedAt + 1) * keySize), flags, written + failedAt);
        }
        core.batchSupported.update = false;
      }
      for (let i = 0; i < n; i++) {
        const [key, value] = pairAt(list, start + i);
        this.update(key, value, flags);
        written++;
      }
    }
    return written;
  }

  /** Delete many keys (BPF_MAP_DELETE_BATCH, or one by one). Missing keys are skipped; returns how many were deleted. */
  deleteBatch(keys: Iterable<KIn>): number {
    const core = this.#core;
    const list = listOf<KIn>(keys, 'deleteBatch', 'keys');
    const { keySize } = core.shape;
    const raw = Buffer.alloc(list.length * keySize);
    const view = viewOf(raw);
    for (let i = 0; i < list.length; i++) this.writeKey(list[i]!, raw, view, i * keySize);
    return this.#deleteRawKeys(raw, list.length);
  }

  /** Delete `count` keys laid out back to back in `raw`; missing keys are skipped. */
  #deleteRawKeys(raw: Buffer, count: number): number {
    if (count === 0) return 0;
    const core = this.#core;
    const { keySize } = core.shape;
    const batch = core.newBatch(Math.min(count, WALK_CHUNK));
    let deleted = 0;
    for (let start = 0; start < count; start += batch.capacity) {
      const n = Math.min(batch.capacity, count - start);
      let done = 0;
      while (core.batchSupported.delete !== false && done < n) {
        // the kernel stops at the first missing key and says how many it deleted before it
        raw.copy(batch.keys, 0, (start + done) * keySize, (start + n) * keySize);
        const ret = batch.delete(core.fd, n - done);
        if (ret === 0) {
          core.batchSupported.delete = true;
          deleted += n - done;
          done = n;
        } else if (ret === -errno.ENOENT) {
          core.batchSupported.delete = true;
          deleted += batch.count;
          done += batch.count + 1;
        } else if (core.batchSupported.delete === undefined && BATCH_UNSUPPORTED.has(-ret)) {
          core.batchSupported.delete = false;
        } else {
          throw elementFailed(this.#core, 'delete_batch', ret, batch.keys.subarray(batch.count * keySize, (batch.count + 1) * keySize));
        }
      }
      if (core.batchSupported.delete === false) {
        const elem = core.elem;
        for (let i = start + done; i < start + n; i++) {
          raw.copy(elem.key, 0, i * keySize, (i + 1) * keySize);
          const ret = elem.delete(core.fd);
          if (ret === 0) deleted++;
          else if (ret !== -errno.ENOENT) throw elementFailed(this.#core, 'delete', ret, elem.key);
        }
      }
    }
    return deleted;
  }

  /** Arrays have every key from 0 to max_entries - 1 for their whole life: the kernel refuses to delete one (EINVAL). */
  #deletable(what: string): void {
    const core = this.#core;
    if (core.shape.type === BPF_MAP_TYPE.ARRAY || core.shape.type === BPF_MAP_TYPE.PERCPU_ARRAY) {
      throw new MapError(core.name, `cannot ${what} an array map: its entries cannot be deleted, every index exists as long as the map (${core.describe()})`, {
        code: 'BPF_LOAD_ARGUMENT',
        hint: 'zero the values instead: map.update(key, zeros) for each index',
      });
    }
  }

  /** Delete every entry and return them (BPF_MAP_LOOKUP_AND_DELETE_BATCH, or walk + delete); refused for arrays. */
  drain(): [K, V][] {
    this.#deletable('drain');
    const core = this.#walkable('drain');
    const out: [K, V][] = [];
    const collect = (chunk: MapChunk): void => {
      for (let i = 0; i < chunk.count; i++) {
        out.push([
          this.#key.decode(chunk.keys, chunk.keysView, i * chunk.keySize),
          this.#value.decode(chunk.values, chunk.valuesView, i * chunk.valueSize),
        ]);
      }
    };
    if (core.batchSupported.lookupAndDelete !== false) {
      const walk = this.#batchChunks(true);
      let step = walk.next();
      if (step.value !== 'unsupported') {
        for (; !step.done; step = walk.next()) collect(step.value as MapChunk);
        return out;
      }
    }
    for (const chunk of this.#nextKeyChunks(true)) {
      collect(chunk);
      this.#deleteRawKeys(chunk.keys, chunk.count);
    }
    return out;
  }

  /** Delete every entry; returns how many were deleted. Refused for arrays, whose entries cannot be deleted. */
  clear(): number {
    this.#deletable('clear');
    const parts: Buffer[] = [];
    let count = 0;
    for (const chunk of this.chunks(false)) {
      parts.push(Buffer.from(chunk.keys.subarray(0, chunk.count * chunk.keySize)));
      count += chunk.count;
    }
    return this.#deleteRawKeys(Buffer.concat(parts), count);
  }

  /** Encode `key` into the kernel's layout at `offset`; a key the codec refuses is a MapError naming the map. */
  protected writeKey(key: KIn, bytes: Buffer, view: DataView, offset = 0): void {
    try {
      this.#key.encode(key, bytes, view, offset);
    } catch (error) {
      throw encodeRefused(this.#core, 'key', key, this.#key, this.#core.shape.keySize, error);
    }
  }

  #writeValue(value: VIn, bytes: Buffer, view: DataView, offset = 0): void {
    try {
      this.#value.encode(value, bytes, view, offset);
    } catch (error) {
      throw encodeRefused(this.#core, 'value', value, this.#value, this.#core.valueBytes, error);
    }
  }
}

/**
 * Keys a walk has yielded, where deletion can send it back to the first key
 * (get_next_key of a deleted key, or a generic batch whose cursor was
 * deleted): a key is yielded once, and a walk sent back more often than the
 * map could explain gives up instead of looping.
 */
class SeenKeys {
  readonly #ids = new Set<string>();
  readonly #patience: number;
  readonly #name: string;
  #revisits = 0;

  constructor(core: MapCore) {
    this.#patience = 4 * core.shape.maxEntries + FALLBACK_CHUNK;
    this.#name = core.name;
  }

  /** True the first time the key at `at` is seen. */
  first(keys: Buffer, at: number, keySize: number): boolean {
    const id = keys.toString('latin1', at, at + keySize);
    if (!this.#ids.has(id)) {
      this.#ids.add(id);
      return true;
    }
    if (++this.#revisits > this.#patience) {
      throw new MapError(this.#name, `walk aborted after ${this.#revisits} revisited keys: the map changes faster than it can be walked`, {
        code: 'BPF_LOAD_MAP_WALK_ABORTED',
        hint: 'entries are deleted and added again all the time; walk it when it is quieter',
      });
    }
    return false;
  }

  /** Drop the entries of a chunk already yielded, moving the rest to the front; returns how many are left. */
  keep(keys: Buffer, values: Buffer, count: number, keySize: number, valueSize: number): number {
    let kept = 0;
    for (let i = 0; i < count; i++) {
      if (!this.first(keys, i * keySize, keySize)) continue;
      if (kept !== i) {
        keys.copy(keys, kept * keySize, i * keySize, (i + 1) * keySize);
        values.copy(values, kept * valueSize, i * valueSize, (i + 1) * valueSize);
      }
      kept++;
    }
    return kept;
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

function chunkOf(batch: MapBatchOps, core: MapCore): MapChunk {
  return {
    keys: batch.keys,
    keysView: viewOf(batch.keys),
    values: batch.values,
    valuesView: viewOf(batch.values),
    count: 0,
    keySize: core.shape.keySize,
    valueSize: core.valueBytes,
  };
}
