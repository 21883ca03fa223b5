import { BPF_ANY, OwnedSlots, errno } from '../../syscall/index.js';
import { bytes, type Codec } from './codecs.js';
import { elementFailed } from './elementErrors.js';
import type { MapCore } from './mapCore.js';
import type { MapChunk } from './mapWalk.js';
import { TypedMap, checkFlags, writeEncoded } from './typedMap.js';

type RawView = TypedMap<Buffer, Buffer, Uint8Array, Uint8Array>;

/**
 * A map's entries as the kernel lays them out: keys and values are Buffers
 * (a per-CPU value is every possible CPU's slot back to back). A view over
 * the map's core like the typed ones, with two differences: lookup() and
 * getNextKey() have the kernel write straight into a Buffer the caller then
 * owns (nothing is copied), and whole-map reads without an object per entry
 * (forEachRaw, readColumns). `map.raw`; BpfMap's own element methods are
 * this view's.
 */
export class RawMap {
  readonly #core: MapCore;
  readonly #view: RawView;
  readonly #keyCodec: Codec<Buffer, Uint8Array>;
  /** where lookup() and getNextKey() have the kernel write the Buffers they return; made on first use */
  #values: OwnedSlots | undefined;
  #keys: OwnedSlots | undefined;

  constructor(core: MapCore) {
    this.#core = core;
    this.#keyCodec = bytes(core.shape.keySize);
    this.#view = new TypedMap(core, this.#keyCodec, bytes(core.valueBytes));
  }

  get keyCodec(): Codec<Buffer, Uint8Array> {
    return this.#keyCodec;
  }

  get valueCodec(): Codec<Buffer, Uint8Array> {
    return this.#view.valueCodec;
  }

  /**
   * The value stored under `key` as a new Buffer of valueBytes that the
   * caller owns, or undefined when there is none. The kernel writes the value
   * straight into that Buffer: nothing is copied. flags: 0, or BPF_F_LOCK.
   */
  lookup(key: Uint8Array, flags = 0): Buffer | undefined {
    checkFlags(flags, 'lookup');
    const core = this.#core;
    const fd = core.fd;
    const elem = core.elem;
    writeEncoded(core, 'key', this.#keyCodec, key, elem.key, elem.keyView);
    const out = (this.#values ??= new OwnedSlots(core.valueBytes));
    const ret = elem.mapLookupElemToSlot(fd, out, flags);
    if (ret === -errno.ENOENT) return undefined;
    if (ret < 0) throw elementFailed(core, 'lookup', ret, elem.key);
    return out.take();
  }

  /**
   * The key after `key` as a new Buffer the caller owns (the first key
   * without one), undefined at the end. For a hash map a `key` that is not in
   * the map gives the first key. The kernel writes the key straight into it.
   */
  getNextKey(key?: Uint8Array): Buffer | undefined {
    const core = this.#core;
    const fd = core.fd;
    const elem = core.elem;
    if (key !== undefined) writeEncoded(core, 'key', this.#keyCodec, key, elem.key, elem.keyView);
    const out = (this.#keys ??= new OwnedSlots(core.shape.keySize));
    const ret = elem.mapGetNextKeyToSlot(fd, key === undefined, out);
    if (ret === -errno.ENOENT) return undefined;
    if (ret < 0) throw elementFailed(core, 'get_next_key', ret, key === undefined ? undefined : elem.key);
    return out.take();
  }

  /**
   * Look up `key` into the caller's `out` (exactly valueBytes) without
   * allocating: true when found, false (and `out` untouched) when not.
   */
  lookupInto(key: Uint8Array, out: Uint8Array, flags = 0): boolean {
    return this.#view.lookupInto(key, out, flags);
  }

  /** getNextKey() into the caller's `out` (exactly key_size bytes; may be `key` itself): false at the end. */
  getNextKeyInto(key: Uint8Array | undefined, out: Uint8Array): boolean {
    return this.#view.getNextKeyInto(key, out);
  }

  has(key: Uint8Array): boolean {
    return this.#view.has(key);
  }

  update(key: Uint8Array, value: Uint8Array, flags: number = BPF_ANY): void {
    this.#view.update(key, value, flags);
  }

  delete(key: Uint8Array): boolean {
    return this.#view.delete(key);
  }

  lookupAndDelete(key: Uint8Array): Buffer | undefined {
    return this.#view.lookupAndDelete(key);
  }

  push(value: Uint8Array, flags: number = BPF_ANY): void {
    this.#view.push(value, flags);
  }

  pop(): Buffer | undefined {
    return this.#view.pop();
  }

  peek(): Buffer | undefined {
    return this.#view.peek();
  }

  keys(): Generator<Buffer, void, undefined> {
    return this.#view.keys();
  }

  entries(): Generator<[Buffer, Buffer], void, undefined> {
    return this.#view.entries();
  }

  values(): Generator<Buffer, void, undefined> {
    return this.#view.values();
  }

  [Symbol.iterator](): Generator<[Buffer, Buffer], void, undefined> {
    return this.#view.entries();
  }

  forEach(visit: (key: Buffer, value: Buffer) => void | boolean): void {
    this.#view.forEach(visit);
  }

  count(): number {
    return this.#view.count();
  }

  chunks(withValues = true): Generator<MapChunk, void, undefined> {
    return this.#view.chunks(withValues);
  }

  updateBatch(entries: Iterable<readonly [Uint8Array, Uint8Array]>, flags: number = BPF_ANY): number {
    return this.#view.updateBatch(entries, flags);
  }

  deleteBatch(keys: Iterable<Uint8Array>): number {
    return this.#view.deleteBatch(keys);
  }

  drain(): [Buffer, Buffer][] {
    return this.#view.drain();
  }

  clear(): number {
    return this.#view.clear();
  }

  /**
   * Visit every entry without an object per entry: `key` and `value` are
   * Buffers reused for every call (copy what you keep). Return false to stop.
   */
  forEachRaw(visit: (key: Buffer, value: Buffer) => void | boolean): void {
    const key = Buffer.alloc(this.#core.shape.keySize);
    const value = Buffer.alloc(this.#core.valueBytes);
    for (const chunk of this.chunks(true)) {
      const { keySize, valueSize } = chunk;
      for (let i = 0; i < chunk.count; i++) {
        chunk.keys.copy(key, 0, i * keySize, (i + 1) * keySize);
        chunk.values.copy(value, 0, i * valueSize, (i + 1) * valueSize);
        if (visit(key, value) === false) return;
      }
    }
  }

  /**
   * The whole map in two columns: `keys` and `values` back to back in kernel
   * layout (entry i at i × keySize / i × valueBytes).
   */
  readColumns(): { keys: Buffer; values: Buffer; count: number; keySize: number; valueSize: number } {
    const keyParts: Buffer[] = [];
    const valueParts: Buffer[] = [];
    let count = 0;
    for (const chunk of this.chunks(true)) {
      keyParts.push(Buffer.from(chunk.keys.subarray(0, chunk.count * chunk.keySize)));
      valueParts.push(Buffer.from(chunk.values.subarray(0, chunk.count * chunk.valueSize)));
      count += chunk.count;
    }
    return {
      keys: Buffer.concat(keyParts), values: Buffer.concat(valueParts), count,
      keySize: this.#core.shape.keySize, valueSize: this.#core.valueBytes,
    };
  }
}
