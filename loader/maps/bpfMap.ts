import { BPF_ANY, BpfFd, errno, mapGetFdById, mapGetInfo, mapTypeName, type MapInfo } from '../../syscall/index.js';
import { inspectMapFd, kernelValueSize } from './compatibility.js';
import type { MapDef } from '../options.js';
import type { Codec } from './codecs.js';
import { MapCore, type MapShape } from './mapCore.js';
import { MapError, argumentError, checkString } from '../errors.js';
import type { TypedMap } from './typedMap.js';
import { perCpuView, typedView } from './mapViews.js';
import { innerIdAt, putInner, requireOuter } from './mapInMap.js';
import { RawMap } from './rawMap.js';
import type { MapChunk } from './mapWalk.js';
import { MapPins } from './mapPins.js';
import { pinPathOf } from '../bpffs/pinRecord.js';
import type { BtfValue } from './btfCodec.js';
import { mapBtfTypes } from './kernelMapBtf.js';

/**
 * A live map: the handle that owns its fd (close(), Symbol.dispose) and says
 * what the map is (name, sizes, the kernel's info, pins). Its entries are
 * read and written through views over the handle's core, never through a
 * subclass: map.raw (keys and values as Buffers in the kernel's layout),
 * map.typed(k, v) and map.perCpu(k, v) (decoded). The element methods on the
 * handle itself (lookup, update, keys…) are map.raw's, as bpf-load has always
 * offered them. Created by the loader for each map of an object (then `index`
 * and `offset` say where it came from), by openPinnedMap(), openMapFd() and
 * openMapById().
 */
export class BpfMap {
  readonly #core: MapCore;
  /** the views are made on first use: most maps a load makes are only handed to programs, never read from JS */
  #rawView: RawMap | undefined;
  #info: MapInfo | undefined;
  #pinSet: MapPins | undefined;

  constructor(
    owner: BpfFd,
    /** the name in the object (the kernel keeps at most 15 characters of it) */
    readonly name: string,
    /** the definition the map was created from, after fixupMap */
    readonly def: Readonly<MapDef>,
    /** position in map_fd[]; -1 for a map not loaded from an object */
    readonly index: number = -1,
    /** offset of the definition in the `maps` section; -1 when not from an object */
    readonly offset: number = -1,
  ) {
    // the element commands' view of the definition: the value size is the kernel's (4 for a map of maps)
    const shape: MapShape = { type: def.type, keySize: def.key_size, valueSize: kernelValueSize(def), maxEntries: def.max_entries, flags: def.map_flags };
    this.#core = new MapCore(owner, name, shape);
  }

  get #raw(): RawMap {
    return this.#rawView ??= new RawMap(this.#core);
  }

  get #pins(): MapPins {
    return this.#pinSet ??= new MapPins(this);
  }

  /** The map's entries as Buffers in the kernel's layout; the handle's own element methods are this view's. */
  get raw(): RawMap {
    return this.#raw;
  }

  /** A map for an fd this process owns already (BPF_OBJ_GET, BPF_MAP_GET_FD_BY_ID), described by the kernel. */
  static fromOwnedFd(owner: BpfFd, name?: string, origin?: string): BpfMap {
    // errors before the kernel has told us the map's name say where the fd came from
    const label = name ?? origin ?? `fd ${owner.fd}`;
    const inspection = inspectMapFd(owner.fd);
    if (inspection.kind !== 'map') owner.close();
    if (inspection.kind === 'other') {
      throw new MapError(label, `is not a bpf map (the fd is ${inspection.what})`, { code: 'BPF_LOAD_MAP_NOT_A_MAP' });
    }
    if (inspection.kind === 'unreadable') {
      throw new MapError(label, 'cannot read what this map is (BPF_OBJ_GET_INFO_BY_FD)', {
        cause: inspection.cause,
        ...(inspection.cause.errno === errno.EINVAL ? { hint: 'the fd is not a bpf map' } : {}),
      });
    }
    const info = inspection.info;
    const def: MapDef = {
      type: info.type, key_size: info.key_size, value_size: info.value_size, max_entries: info.max_entries,
      map_flags: info.map_flags, inner_map_idx: 0, numa_node: 0,
    };
    try {
      const map = new BpfMap(owner, name ?? info.name, Object.freeze(def));
      map.#info = info;
      return map;
    } catch (error) {
      owner.close();
      throw error;
    }
  }

  get fd(): number {
    return this.#core.fd;
  }

  get closed(): boolean {
    return this.#core.owner.closed;
  }

  /** What the kernel says about this map (BPF_OBJ_GET_INFO_BY_FD), read once. */
  get info(): MapInfo {
    this.#info ??= mapGetInfo(this.fd);
    return this.#info;
  }

  /** Where the load pinned this map (or found it pinned and reused it), if it did. */
  get pinPath(): string | undefined {
    return pinPathOf(this);
  }

  /** The kernel's id for this map, as `bpftool map show id N` takes it. */
  get id(): number {
    return this.info.id;
  }

  get type(): number {
    return this.#core.shape.type;
  }

  /** `hash`, `percpu_array`… as bpftool spells it */
  get typeName(): string {
    return mapTypeName(this.#core.shape.type);
  }

  get keySize(): number {
    return this.#core.shape.keySize;
  }

  /** value_size as defined; a per-CPU map's values are `valueBytes` long */
  get valueSize(): number {
    return this.#core.shape.valueSize;
  }

  /** bytes of one value as this raw view reads and writes it: value_size, or possibleCpus × round_up(value_size, 8) */
  get valueBytes(): number {
    return this.#core.valueBytes;
  }

  get maxEntries(): number {
    return this.#core.shape.maxEntries;
  }

  get flags(): number {
    return this.#core.shape.flags;
  }

  get isPerCpu(): boolean {
    return this.#core.perCpu;
  }

  /** slots per value: possible CPUs for a per-CPU map, else 1 */
  get possibleCpus(): number {
    return this.#core.cpus;
  }

  /**
   * A decoded view sharing this map's fd: `map.typed(u32, u64).lookup(7)`.
   * The codecs' sizes must be the map's key and value sizes. Per-CPU maps
   * need perCpu(). Without codecs, the codecs come from the key and value
   * BTF types the object declares for the map (structs as objects by member
   * name, see btfCodec), or for a map opened by pin, fd or id from the BTF
   * the kernel holds for it; a map without them throws BPF_LOAD_ARGUMENT.
   */
  typed(): TypedMap<BtfValue, BtfValue, unknown, unknown>;
  typed<K, V, KIn = K, VIn = V>(key: Codec<K, KIn>, value: Codec<V, VIn>): TypedMap<K, V, KIn, VIn>;
  typed(key?: Codec<unknown, never>, value?: Codec<unknown, never>): TypedMap<unknown, unknown, never, never> {
    return typedView(this.#core, key, value, key === undefined && value === undefined ? mapBtfTypes(this) : undefined);
  }

  /**
   * The view of a per-CPU map: values are arrays of one value per possible
   * CPU (index = CPU number). update() takes such an array, exactly
   * possibleCpus long. Without codecs, keys and per-CPU values are Buffers.
   */
  perCpu(): TypedMap<Buffer, Buffer[], Uint8Array, Uint8Array[]>;
  perCpu<K, V, KIn = K, VIn = V>(key: Codec<K, KIn>, value: Codec<V, VIn>): TypedMap<K, V[], KIn, VIn[]>;
  perCpu(key?: Codec<unknown, never>, value?: Codec<unknown, never>): TypedMap<unknown, unknown[], never, never[]> {
    return perCpuView(this.#core, key, value);
  }

  /** Map-in-map: put `inner` (a map or a map fd) at `key` of this outer map. */
  setInner(key: Uint8Array | number, inner: BpfMap | number, flags: number = BPF_ANY): void {
    requireOuter(this.#core, 'setInner');
    if (typeof inner === 'number' ? !Number.isInteger(inner) || inner < 0 : !(inner instanceof BpfMap)) {
      throw argumentError('setInner', 'inner', 'a BpfMap or an open map fd (an integer >= 0)', inner);
    }
    putInner(this.#core, this.#raw, key, typeof inner === 'number' ? inner : inner.fd, flags);
  }

  /** Map-in-map: the kernel id of the inner map at `key` (what a lookup from user space returns), or undefined. */
  getInnerId(key: Uint8Array | number): number | undefined {
    return innerIdAt(this.#core, this.#raw, key);
  }

  /** Map-in-map: open the inner map at `key` (BPF_MAP_GET_FD_BY_ID); the caller owns the result. */
  openInner(key: Uint8Array | number): BpfMap | undefined {
    const id = this.getInnerId(key);
    if (id === undefined) return undefined;
    let owner: BpfFd;
    try {
      owner = mapGetFdById(id);
    } catch (cause) {
      throw new MapError(this.name, `cannot open inner map id ${id}`, { cause });
    }
    return BpfMap.fromOwnedFd(owner);
  }

  /** Paths this handle pinned (pin()), in order; unpin() without a path removes the last. */
  get pinnedPaths(): readonly string[] {
    return this.#pins.paths;
  }

  /**
   * Pin the map at `path` on a bpffs (BPF_OBJ_PIN). The pin outlives this
   * process; remove it with unpin() or `rm`. An existing pin is never replaced.
   */
  pin(path: string): void {
    checkString(path, 'path', 'pin');
    this.#pins.pin(path);
  }

  /**
   * Remove a pin of this map (by default the last one this handle made).
   * Returns false when it was already gone. A path that pins anything else
   * (another map, a program, a file off bpffs) is refused, not removed.
   */
  unpin(path?: string): boolean {
    if (path !== undefined) checkString(path, 'path', 'unpin');
    return this.#pins.unpin(path);
  }

  // The raw view's operations on the handle itself (map.raw.lookup(k) is map.lookup(k)): see RawMap.

  get keyCodec(): Codec<Buffer, Uint8Array> {
    return this.#raw.keyCodec;
  }

  get valueCodec(): Codec<Buffer, Uint8Array> {
    return this.#raw.valueCodec;
  }

  /** The value under `key` as a new Buffer the caller owns (the kernel writes into it), or undefined. flags: 0, or BPF_F_LOCK. */
  lookup(key: Uint8Array, flags = 0): Buffer | undefined {
    return this.#raw.lookup(key, flags);
  }

  /** Look up `key` into the caller's `out` (exactly valueBytes) without allocating: false, `out` untouched, when not found. */
  lookupInto(key: Uint8Array, out: Uint8Array, flags = 0): boolean {
    return this.#raw.lookupInto(key, out, flags);
  }

  has(key: Uint8Array): boolean {
    return this.#raw.has(key);
  }

  /** Store `value` under `key`. flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST (| BPF_F_LOCK). */
  update(key: Uint8Array, value: Uint8Array, flags: number = BPF_ANY): void {
    this.#raw.update(key, value, flags);
  }

  /** Delete `key`; false when it was not there. */
  delete(key: Uint8Array): boolean {
    return this.#raw.delete(key);
  }

  /** The key after `key` (the first without one) as a new Buffer the caller owns, undefined at the end. */
  getNextKey(key?: Uint8Array): Buffer | undefined {
    return this.#raw.getNextKey(key);
  }

  /** getNextKey() into the caller's `out` (exactly key_size bytes; may be `key` itself): false at the end. */
  getNextKeyInto(key: Uint8Array | undefined, out: Uint8Array): boolean {
    return this.#raw.getNextKeyInto(key, out);
  }

  lookupAndDelete(key: Uint8Array): Buffer | undefined {
    return this.#raw.lookupAndDelete(key);
  }

  push(value: Uint8Array, flags: number = BPF_ANY): void {
    this.#raw.push(value, flags);
  }

  pop(): Buffer | undefined {
    return this.#raw.pop();
  }

  peek(): Buffer | undefined {
    return this.#raw.peek();
  }

  keys(): Generator<Buffer, void, undefined> {
    return this.#raw.keys();
  }

  entries(): Generator<[Buffer, Buffer], void, undefined> {
    return this.#raw.entries();
  }

  values(): Generator<Buffer, void, undefined> {
    return this.#raw.values();
  }

  [Symbol.iterator](): Generator<[Buffer, Buffer], void, undefined> {
    return this.#raw.entries();
  }

  forEach(visit: (key: Buffer, value: Buffer) => void | boolean): void {
    this.#raw.forEach(visit);
  }

  count(): number {
    return this.#raw.count();
  }

  chunks(withValues = true): Generator<MapChunk, void, undefined> {
    return this.#raw.chunks(withValues);
  }

  updateBatch(entries: Iterable<readonly [Uint8Array, Uint8Array]>, flags: number = BPF_ANY): number {
    return this.#raw.updateBatch(entries, flags);
  }

  deleteBatch(keys: Iterable<Uint8Array>): number {
    return this.#raw.deleteBatch(keys);
  }

  drain(): [Buffer, Buffer][] {
    return this.#raw.drain();
  }

  clear(): number {
    return this.#raw.clear();
  }

  forEachRaw(visit: (key: Buffer, value: Buffer) => void | boolean): void {
    this.#raw.forEachRaw(visit);
  }

  readColumns(): { keys: Buffer; values: Buffer; count: number; keySize: number; valueSize: number } {
    return this.#raw.readColumns();
  }

  close(): void {
    this.#core.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
