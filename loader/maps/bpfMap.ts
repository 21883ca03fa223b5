import { unlinkSync } from 'node:fs';
import {
  BPF_ANY, BpfFd, OwnedSlots, errno, isMapInMapType, mapGetFdById, mapGetInfo, mapTypeName, objGet, objPin, objectIdOf,
  type MapInfo,
} from '../../syscall/index.js';
import { isBpffs, nearestExisting, pathExists, pinFailureHint } from '../bpffs/bpffs.js';
import { inspectMapFd, kernelValueSize } from './compatibility.js';
import type { MapDef } from '../options.js';
import { bytes, checkCodec, u32, type Codec } from './codecs.js';
import { MapCore, viewOf, type MapShape } from './mapCore.js';
import { MapError, argumentError, checkString } from '../errors.js';
import { hexPreview } from './hexPreview.js';
import { perCpuValues } from './perCpu.js';
import { TypedMap, checkFlags } from './typedMap.js';
import { elementFailed } from './elementErrors.js';
import { pinPathOf } from '../bpffs/pinRecord.js';
import { btfCodec, type BtfCodec, type BtfValue } from './btfCodec.js';
import { mapBtfOf } from './mapBtf.js';

/**
 * A live map: one owned fd plus what it is, and the raw view of its entries
 * (keys and values as Buffers in the kernel's layout; map.typed(k, v) and
 * map.perCpu(k, v) give decoded views). Created by the loader for each map
 * of an object (then `index` and `offset` say where it came from), by
 * openPinnedMap() and by openMapFd().
 */
export class BpfMap extends TypedMap<Buffer, Buffer, Uint8Array, Uint8Array> {
  readonly #core: MapCore;
  /** where lookup() and getNextKey() have the kernel write the Buffers they return; made on first use */
  #values: OwnedSlots | undefined;
  #keys: OwnedSlots | undefined;
  #info: MapInfo | undefined;
  readonly #pins: string[] = [];

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
    const core = new MapCore(owner, name, shapeOf(def));
    super(core, bytes(core.shape.keySize), bytes(core.valueBytes));
    this.#core = core;
  }

  /**
   * The value stored under `key` as a new Buffer of valueBytes that the
   * caller owns, or undefined when there is none. The kernel writes the value
   * straight into that Buffer: nothing is copied. flags: 0, or BPF_F_LOCK.
   */
  override lookup(key: Uint8Array, flags = 0): Buffer | undefined {
    checkFlags(flags, 'lookup');
    const core = this.#core;
    const fd = core.fd;
    const elem = core.elem;
    this.writeKey(key, elem.key, elem.keyView);
    const out = (this.#values ??= new OwnedSlots(core.valueBytes));
    const ret = elem.lookupTo(fd, out, flags);
    if (ret === -errno.ENOENT) return undefined;
    if (ret < 0) throw elementFailed(core, 'lookup', ret, elem.key);
    return out.take();
  }

  /**
   * The key after `key` as a new Buffer the caller owns (the first key
   * without one), undefined at the end. For a hash map a `key` that is not in
   * the map gives the first key. The kernel writes the key straight into it.
   */
  override getNextKey(key?: Uint8Array): Buffer | undefined {
    const core = this.#core;
    const fd = core.fd;
    const elem = core.elem;
    if (key !== undefined) this.writeKey(key, elem.key, elem.keyView);
    const out = (this.#keys ??= new OwnedSlots(core.shape.keySize));
    const ret = elem.getNextKeyTo(fd, key === undefined, out);
    if (ret === -errno.ENOENT) return undefined;
    if (ret < 0) throw elementFailed(core, 'get_next_key', ret, key === undefined ? undefined : elem.key);
    return out.take();
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
   * name, see btfCodec); a map without them throws BPF_LOAD_ARGUMENT.
   */
  typed(): TypedMap<BtfValue, BtfValue, unknown, unknown>;
  typed<K, V, KIn = K, VIn = V>(key: Codec<K, KIn>, value: Codec<V, VIn>): TypedMap<K, V, KIn, VIn>;
  typed(key?: Codec<unknown, never>, value?: Codec<unknown, never>): TypedMap<unknown, unknown, never, never> {
    const fromBtf = key === undefined && value === undefined;
    if (!fromBtf) {
      checkCodec(key, 'key', 'typed');
      checkCodec(value, 'value', 'typed');
    }
    if (this.#core.perCpu) {
      throw new MapError(this.name, `is a ${this.typeName} map: its values are one per possible CPU; use map.perCpu(keyCodec, valueCodec)`, {
        code: 'BPF_LOAD_MAP_SIZE',
      });
    }
    if (fromBtf) return new TypedMap(this.#core, ...this.#btfCodecs());
    return new TypedMap(this.#core, key!, value!);
  }

  /** The key and value codecs from the map's BTF types. */
  #btfCodecs(): [BtfCodec, BtfCodec] {
    const types = mapBtfOf(this);
    const missing = types === undefined
      ? 'it has no BTF key and value types (a legacy `maps` definition, an object without BTF, or a map opened by pin or fd)'
      : types.keyTypeId === 0 || types.valueTypeId === 0
        ? `its definition declares no BTF ${types.keyTypeId === 0 ? 'key' : 'value'} type`
        : undefined;
    if (missing !== undefined || types === undefined) {
      throw new MapError(this.name, `typed() without codecs needs the map's BTF types, and ${missing}`, {
        code: 'BPF_LOAD_ARGUMENT',
        hint: 'pass codecs: map.typed(keyCodec, valueCodec)',
      });
    }
    const btf = types.btf();
    return [btfCodec(btf, types.keyTypeId), btfCodec(btf, types.valueTypeId)];
  }

  /**
   * The view of a per-CPU map: values are arrays of one value per possible
   * CPU (index = CPU number). update() takes such an array, exactly
   * possibleCpus long. Without codecs, keys and per-CPU values are Buffers.
   */
  perCpu(): TypedMap<Buffer, Buffer[], Uint8Array, Uint8Array[]>;
  perCpu<K, V, KIn = K, VIn = V>(key: Codec<K, KIn>, value: Codec<V, VIn>): TypedMap<K, V[], KIn, VIn[]>;
  perCpu(key?: Codec<unknown, never>, value?: Codec<unknown, never>): TypedMap<unknown, unknown[], never, never[]> {
    const core = this.#core;
    if (!core.perCpu) {
      throw new MapError(this.name, `is a ${this.typeName} map, not a per-CPU map; use map.typed(keyCodec, valueCodec)`);
    }
    if (key !== undefined) checkCodec(key, 'key', 'perCpu');
    if (value !== undefined) checkCodec(value, 'value', 'perCpu');
    const element = value ?? bytes(core.shape.valueSize);
    if (element.size !== core.shape.valueSize) {
      throw new MapError(this.name, `value codec ${element.name} is ${element.size} bytes, the map's value_size is ${core.shape.valueSize}`, {
        code: 'BPF_LOAD_MAP_SIZE',
      });
    }
    return new TypedMap(core, key ?? bytes(core.shape.keySize), perCpuValues(element, core.cpus, core.valueStride));
  }

  /**
   * Visit every entry without an object per entry: `key` and `value` are
   * Buffers reused for every call (copy what you keep). Return false to stop.
   */
  forEachRaw(visit: (key: Buffer, value: Buffer) => void | boolean): void {
    const key = Buffer.alloc(this.keySize);
    const value = Buffer.alloc(this.valueBytes);
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
    return { keys: Buffer.concat(keyParts), values: Buffer.concat(valueParts), count, keySize: this.keySize, valueSize: this.valueBytes };
  }

  /** Map-in-map: put `inner` (a map or a map fd) at `key` of this outer map. */
  setInner(key: Uint8Array | number, inner: BpfMap | number, flags: number = BPF_ANY): void {
    this.#requireOuter('setInner');
    if (typeof inner === 'number' ? !Number.isInteger(inner) || inner < 0 : !(inner instanceof BpfMap)) {
      throw argumentError('setInner', 'inner', 'a BpfMap or an open map fd (an integer >= 0)', inner);
    }
    const fd = typeof inner === 'number' ? inner : inner.fd;
    const value = Buffer.alloc(4);
    value.writeUInt32LE(fd);
    try {
      this.update(this.#keyBytes(key), value, flags);
    } catch (error) {
      if (!(error instanceof MapError && (error.errno === errno.EINVAL || error.errno === errno.EBADF))) throw error;
      const hint = error.errno === errno.EBADF
        ? `fd ${fd} is not an open file descriptor`
        : 'the inner map must match the template the outer map was created with: type, key_size, value_size, ' +
          'map_flags and (unless the template has BPF_F_INNER_MAP) max_entries';
      throw new MapError(this.name, `setInner: cannot put map fd ${fd} at key ${hexPreview(this.#keyBytes(key))}`, {
        cause: error.cause, hint,
      });
    }
  }

  /** Map-in-map: the kernel id of the inner map at `key` (what a lookup from user space returns), or undefined. */
  getInnerId(key: Uint8Array | number): number | undefined {
    this.#requireOuter('getInnerId');
    const value = this.lookup(this.#keyBytes(key));
    return value === undefined ? undefined : u32.decode(value, viewOf(value), 0);
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

  #requireOuter(what: string): void {
    if (!isMapInMapType(this.type)) {
      throw new MapError(this.name, `${what}() needs an array_of_maps or hash_of_maps map, this is ${this.typeName}`);
    }
  }

  #keyBytes(key: Uint8Array | number): Uint8Array {
    if (key instanceof Uint8Array) return key;
    if (typeof key !== 'number' || (key >>> 0) !== key) throw argumentError(this.name, 'key', 'an index (an unsigned 32-bit integer) or the key\'s bytes', key);
    if (this.keySize !== 4) {
      throw new MapError(this.name, `a number key needs key_size 4, this map's is ${this.keySize}; pass the key's bytes`, {
        code: 'BPF_LOAD_MAP_SIZE',
      });
    }
    const bytes = Buffer.alloc(4);
    u32.encode(key, bytes, viewOf(bytes), 0);
    return bytes;
  }

  /** Paths this handle pinned (pin()), in order; unpin() without a path removes the last. */
  get pinnedPaths(): readonly string[] {
    return this.#pins;
  }

  /**
   * Pin the map at `path` on a bpffs (BPF_OBJ_PIN). The pin outlives this
   * process; remove it with unpin() or `rm`. An existing pin is never replaced.
   */
  pin(path: string): void {
    checkString(path, 'path', 'pin');
    try {
      objPin(this.fd, path);
    } catch (cause) {
      throw new MapError(this.name, `cannot pin at '${path}'`, { cause, hint: pinFailureHint(cause, path, 'unpin it first') });
    }
    this.#pins.push(path);
  }

  /**
   * Remove a pin of this map (by default the last one this handle made).
   * Returns false when it was already gone. A path that pins anything else
   * (another map, a program, a file off bpffs) is refused, not removed.
   */
  unpin(path?: string): boolean {
    if (path !== undefined) checkString(path, 'path', 'unpin');
    const target = path ?? this.#pins.at(-1);
    if (target === undefined) throw new MapError(this.name, 'unpin() without a path, and this handle pinned nothing');
    if (!pathExists(target)) {
      this.#forgetPin(target);
      return false;
    }
    this.#checkPinnedHere(target);
    this.#forgetPin(target);
    try {
      unlinkSync(target);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new MapError(this.name, `cannot unpin '${target}': ${(error as Error).message}`);
    }
  }

  #forgetPin(path: string): void {
    const index = this.#pins.lastIndexOf(path);
    if (index >= 0) this.#pins.splice(index, 1);
  }

  /** unlink() as root removes anything: make sure `path` is a pin of this very map first. */
  #checkPinnedHere(path: string): void {
    if (!isBpffs(nearestExisting(path))) {
      throw new MapError(this.name, `will not unpin '${path}': it is not on a bpf filesystem, so not a pin`, {
        code: 'BPF_LOAD_MAP_NOT_PINNED_HERE',
      });
    }
    let pinnedId: number;
    try {
      const pinned = objGet(path, 0);
      try {
        pinnedId = objectIdOf(pinned.fd);
      } finally {
        pinned.close();
      }
    } catch (cause) {
      throw new MapError(this.name, `will not unpin '${path}': cannot tell what is pinned there`, {
        cause, code: 'BPF_LOAD_MAP_NOT_PINNED_HERE', hint: 'a directory, or no permission to open it: remove it with rm if you mean to',
      });
    }
    if (pinnedId !== this.id) {
      throw new MapError(this.name, `will not unpin '${path}': it pins another bpf object (id ${pinnedId}), not this map (id ${this.id})`, {
        code: 'BPF_LOAD_MAP_NOT_PINNED_HERE',
      });
    }
  }

  close(): void {
    this.#core.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function shapeOf(def: Readonly<MapDef>): MapShape {
  return {
    type: def.type,
    keySize: def.key_size,
    valueSize: kernelValueSize(def),
    maxEntries: def.max_entries,
    flags: def.map_flags,
  };
}
