import { addressHalves as halves, addressOf, attr, nativeAlloc, type NativeMemory, sysBpf, sysBpfAttr } from './native.js';
import type { OwnedSlots } from './ownedSlots.js';
import {
  BPF_MAP_DELETE_BATCH, BPF_MAP_DELETE_ELEM, BPF_MAP_GET_NEXT_KEY, BPF_MAP_LOOKUP_AND_DELETE_BATCH,
  BPF_MAP_LOOKUP_AND_DELETE_ELEM, BPF_MAP_LOOKUP_BATCH, BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_BATCH,
  BPF_MAP_UPDATE_ELEM,
} from '../uapi/commands.js';
import { MAP_BATCH_ATTR, MAP_ELEM_ATTR } from '../uapi/attrs.js';
import { wordIndex, wordIndexes } from './structCodec.js';

/**
 * The map element and batch commands, built for the hot path: key and value
 * scratch memory is allocated once per map outside the JS heap, so its
 * addresses are computed once; each operation writes a handful of 32-bit
 * words into the shared attr and makes one bpf(2) call. Nothing here
 * allocates per call, and nothing throws: every method returns the syscall's
 * result (>= 0) or -errno, and the caller decides what a missing key means.
 *
 * The methods are named after the bpf(2) command they make (mapLookupElem is
 * BPF_MAP_LOOKUP_ELEM), never after the map API's operations (lookup,
 * lookupInto, updateBatch…), whose contracts differ: these fill scratch memory
 * or an OwnedSlots slot (the …ToSlot variants) and return -errno.
 */

/** offsetofend(union bpf_attr, flags) for the element commands */
export const ELEM_ATTR_SIZE = MAP_ELEM_ATTR.end;
/** offsetofend(union bpf_attr, batch.flags) */
export const BATCH_ATTR_SIZE = MAP_BATCH_ATTR.end;

// the attr as host-order words: where each field's words sit, read from the layouts once
const attrWords = new Uint32Array(attr.buffer, attr.byteOffset, attr.byteLength >>> 2);
const ELEM = {
  mapFd: wordIndex(MAP_ELEM_ATTR.fields.map_fd),
  key: wordIndexes(MAP_ELEM_ATTR.fields.key),
  value: wordIndexes(MAP_ELEM_ATTR.fields.value),
  flags: wordIndexes(MAP_ELEM_ATTR.fields.flags),
};
const BATCH = {
  inBatch: wordIndexes(MAP_BATCH_ATTR.fields.in_batch),
  outBatch: wordIndexes(MAP_BATCH_ATTR.fields.out_batch),
  keys: wordIndexes(MAP_BATCH_ATTR.fields.keys),
  values: wordIndexes(MAP_BATCH_ATTR.fields.values),
  count: wordIndex(MAP_BATCH_ATTR.fields.count),
  mapFd: wordIndex(MAP_BATCH_ATTR.fields.map_fd),
  elemFlags: wordIndexes(MAP_BATCH_ATTR.fields.elem_flags),
  flags: wordIndexes(MAP_BATCH_ATTR.fields.flags),
};
const ELEM_PAD = ELEM.mapFd + 1;


/**
 * Scratch memory for one map's element commands: `key`, `value` and
 * `nextKey` are views of native memory at fixed addresses. Write the key into
 * `key`, call, read the result from `value` / `nextKey`. Call free() once the
 * map is closed; the views are dangling afterwards.
 */
export class MapElementOps {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly nextKey: Buffer;
  /** DataViews of key, value and nextKey, made once for codecs */
  readonly keyView: DataView;
  readonly valueView: DataView;
  readonly nextKeyView: DataView;
  readonly #memory: NativeMemory;
  readonly #keyLo: number;
  readonly #keyHi: number;
  readonly #valueLo: number;
  readonly #valueHi: number;
  readonly #nextLo: number;
  readonly #nextHi: number;

  /** `valueBytes` is what the kernel copies per value: for per-CPU maps, round_up(value_size, 8) * possible CPUs. */
  constructor(
    readonly keySize: number,
    readonly valueBytes: number,
  ) {
    // 8-byte aligned slots, so a key or value can be viewed as 64-bit words
    const keySlot = roundUp8(Math.max(keySize, 1));
    const valueSlot = roundUp8(Math.max(valueBytes, 1));
    this.#memory = nativeAlloc(2 * keySlot + valueSlot);
    const base = this.#memory.address;
    const bytes = this.#memory.bytes;
    this.key = bytes.subarray(0, keySize);
    this.nextKey = bytes.subarray(keySlot, keySlot + keySize);
    this.value = bytes.subarray(2 * keySlot, 2 * keySlot + valueBytes);
    this.keyView = new DataView(bytes.buffer, bytes.byteOffset, keySize);
    this.nextKeyView = new DataView(bytes.buffer, bytes.byteOffset + keySlot, keySize);
    this.valueView = new DataView(bytes.buffer, bytes.byteOffset + 2 * keySlot, valueBytes);
    // the kernel wants NULL, not a pointer, for the key of a key_size 0 map (queue, stack)
    [this.#keyLo, this.#keyHi] = keySize > 0 ? halves(base) : [0, 0];
    [this.#nextLo, this.#nextHi] = halves(base + BigInt(keySlot));
    [this.#valueLo, this.#valueHi] = halves(base + BigInt(2 * keySlot));
  }

  #elem(fd: number, withKey: boolean, secondLo: number, secondHi: number, flags: number): void {
    attrWords[ELEM.mapFd] = fd;
    attrWords[ELEM_PAD] = 0;
    attrWords[ELEM.key[0]] = withKey ? this.#keyLo : 0;
    attrWords[ELEM.key[1]] = withKey ? this.#keyHi : 0;
    attrWords[ELEM.value[0]] = secondLo;
    attrWords[ELEM.value[1]] = secondHi;
    attrWords[ELEM.flags[0]] = flags;
    attrWords[ELEM.flags[1]] = 0;
  }

  /** BPF_MAP_LOOKUP_ELEM: `key` → `value`. flags: 0 or BPF_F_LOCK. */
  mapLookupElem(fd: number, flags = 0): number {
    this.#elem(fd, true, this.#valueLo, this.#valueHi, flags);
    return sysBpfAttr(BPF_MAP_LOOKUP_ELEM, ELEM_ATTR_SIZE);
  }

  /** BPF_MAP_LOOKUP_ELEM: `key` → a slot of `out` (take() it if the call succeeded). */
  mapLookupElemToSlot(fd: number, out: OwnedSlots, flags = 0): number {
    out.ready();
    this.#elem(fd, true, out.lo, out.hi, flags);
    return sysBpfAttr(BPF_MAP_LOOKUP_ELEM, ELEM_ATTR_SIZE);
  }

  /** BPF_MAP_UPDATE_ELEM of `key`, `value` with BPF_ANY / BPF_NOEXIST / BPF_EXIST (| BPF_F_LOCK). */
  mapUpdateElem(fd: number, flags: number): number {
    this.#elem(fd, true, this.#valueLo, this.#valueHi, flags);
    return sysBpfAttr(BPF_MAP_UPDATE_ELEM, ELEM_ATTR_SIZE);
  }

  /** BPF_MAP_DELETE_ELEM of `key`. */
  mapDeleteElem(fd: number): number {
    this.#elem(fd, true, 0, 0, 0);
    return sysBpfAttr(BPF_MAP_DELETE_ELEM, ELEM_ATTR_SIZE);
  }

  /** BPF_MAP_GET_NEXT_KEY: the key after `key` (or the first key when `first`) → `nextKey`. */
  mapGetNextKey(fd: number, first: boolean): number {
    this.#elem(fd, !first, this.#nextLo, this.#nextHi, 0);
    return sysBpfAttr(BPF_MAP_GET_NEXT_KEY, ELEM_ATTR_SIZE);
  }

  /** BPF_MAP_GET_NEXT_KEY into a slot of `out` (take() it if the call succeeded). */
  mapGetNextKeyToSlot(fd: number, first: boolean, out: OwnedSlots): number {
    out.ready();
    this.#elem(fd, !first, out.lo, out.hi, 0);
    return sysBpfAttr(BPF_MAP_GET_NEXT_KEY, ELEM_ATTR_SIZE);
  }

  /** BPF_MAP_LOOKUP_AND_DELETE_ELEM: `key` → `value`, then gone (queue/stack maps: no key). */
  mapLookupAndDeleteElem(fd: number, flags = 0): number {
    this.#elem(fd, true, this.#valueLo, this.#valueHi, flags);
    return sysBpfAttr(BPF_MAP_LOOKUP_AND_DELETE_ELEM, ELEM_ATTR_SIZE);
  }

  free(): void {
    this.#memory.free();
  }
}

/**
 * Buffers for the batch commands: `keys` and `values` hold up to `capacity`
 * entries back to back (`valueStride` bytes each), next to the opaque batch
 * cursor. One allocation per walk, on the JS heap: an ArrayBuffer's backing
 * store never moves, so its address is computed once, and the garbage
 * collector frees it when an abandoned walk drops it.
 */
export class MapBatchOps {
  readonly keys: Buffer;
  readonly values: Buffer;
  readonly #memory: Buffer;
  readonly #cursorIn: Buffer;
  readonly #cursorOut: Buffer;
  readonly #inLo: number;
  readonly #inHi: number;
  readonly #outLo: number;
  readonly #outHi: number;
  readonly #keysLo: number;
  readonly #keysHi: number;
  readonly #valuesLo: number;
  readonly #valuesHi: number;
  /** entries the last call reported (attr.batch.count after the call) */
  count = 0;

  constructor(
    readonly keySize: number,
    readonly valueStride: number,
    readonly capacity: number,
  ) {
    // hash maps use a 4-byte bucket cursor, other maps a key
    const cursorSlot = roundUp8(Math.max(keySize, 8));
    const keysBytes = roundUp8(Math.max(keySize * capacity, 1));
    const valuesBytes = roundUp8(Math.max(valueStride * capacity, 1));
    const bytes = Buffer.alloc(2 * cursorSlot + keysBytes + valuesBytes);
    this.#memory = bytes;
    const base = addressOf(bytes);
    this.#cursorIn = bytes.subarray(0, cursorSlot);
    this.#cursorOut = bytes.subarray(cursorSlot, 2 * cursorSlot);
    this.keys = bytes.subarray(2 * cursorSlot, 2 * cursorSlot + keySize * capacity);
    const valuesAt = 2 * cursorSlot + keysBytes;
    this.values = bytes.subarray(valuesAt, valuesAt + valueStride * capacity);
    [this.#inLo, this.#inHi] = halves(base);
    [this.#outLo, this.#outHi] = halves(base + BigInt(cursorSlot));
    [this.#keysLo, this.#keysHi] = halves(base + BigInt(2 * cursorSlot));
    [this.#valuesLo, this.#valuesHi] = halves(base + BigInt(valuesAt));
  }

  #batch(fd: number, withCursor: boolean, first: boolean, withValues: boolean, count: number, elemFlags: number): void {
    const inCursor = withCursor && !first;
    attrWords[BATCH.inBatch[0]] = inCursor ? this.#inLo : 0;
    attrWords[BATCH.inBatch[1]] = inCursor ? this.#inHi : 0;
    attrWords[BATCH.outBatch[0]] = withCursor ? this.#outLo : 0;
    attrWords[BATCH.outBatch[1]] = withCursor ? this.#outHi : 0;
    attrWords[BATCH.keys[0]] = this.#keysLo;
    attrWords[BATCH.keys[1]] = this.#keysHi;
    attrWords[BATCH.values[0]] = withValues ? this.#valuesLo : 0;
    attrWords[BATCH.values[1]] = withValues ? this.#valuesHi : 0;
    attrWords[BATCH.count] = count;
    attrWords[BATCH.mapFd] = fd;
    attrWords[BATCH.elemFlags[0]] = elemFlags;
    attrWords[BATCH.elemFlags[1]] = 0;
    attrWords[BATCH.flags[0]] = 0;
    attrWords[BATCH.flags[1]] = 0;
  }

  /**
   * BPF_MAP_LOOKUP_BATCH (or LOOKUP_AND_DELETE_BATCH with `andDelete`) of up
   * to `count` entries into `keys`/`values`, continuing after the previous
   * call unless `first`. Sets `this.count`; -ENOENT means "this was the last
   * chunk" (count may still be > 0).
   */
  mapLookupBatch(fd: number, first: boolean, count = this.capacity, andDelete = false, elemFlags = 0): number {
    if (!first) this.#cursorOut.copy(this.#cursorIn);
    this.#batch(fd, true, first, true, Math.min(count, this.capacity), elemFlags);
    const ret = sysBpf(andDelete ? BPF_MAP_LOOKUP_AND_DELETE_BATCH : BPF_MAP_LOOKUP_BATCH, attr, BATCH_ATTR_SIZE);
    this.count = attrWords[BATCH.count]!;
    return ret;
  }

  /** BPF_MAP_UPDATE_BATCH of the first `count` entries of `keys`/`values`; `this.count` = how many were written. */
  mapUpdateBatch(fd: number, count: number, elemFlags = 0): number {
    this.#batch(fd, false, true, true, count, elemFlags);
    const ret = sysBpf(BPF_MAP_UPDATE_BATCH, attr, BATCH_ATTR_SIZE);
    this.count = attrWords[BATCH.count]!;
    return ret;
  }

  /** Continue where `other` stopped (after growing the buffers). */
  resumeFrom(other: MapBatchOps): void {
    other.#cursorOut.copy(this.#cursorOut);
  }

  /** BPF_MAP_DELETE_BATCH of the first `count` keys; `this.count` = how many were deleted. */
  mapDeleteBatch(fd: number, count: number): number {
    this.#batch(fd, false, true, false, count, 0);
    const ret = sysBpf(BPF_MAP_DELETE_BATCH, attr, BATCH_ATTR_SIZE);
    this.count = attrWords[BATCH.count]!;
    return ret;
  }

  /** The memory all the views share, kept alive as long as this object. */
  get memory(): Buffer {
    return this.#memory;
  }
}

function roundUp8(n: number): number {
  return (n + 7) & ~7;
}
