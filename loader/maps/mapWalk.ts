import { errno, type MapBatchOps } from '../../syscall/index.js';
import { MapError } from '../errors.js';
import { elementFailed } from './elementErrors.js';
import { viewOf, type MapCore } from './mapCore.js';

/**
 * The walk engine: a whole map as chunks of entries in the kernel's layout,
 * by BPF_MAP_LOOKUP_BATCH where the kernel and map type have it, else by
 * get_next_key + lookup. It knows no codec: the views decode the chunks.
 */

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
export const WALK_CHUNK = 4096;
/** Entries per chunk when walking with get_next_key */
const FALLBACK_CHUNK = 64;

/** What a kernel without a batch command (or a map type without it) answers on the first call. */
export const BATCH_UNSUPPORTED = new Set<number>([errno.EINVAL, errno.ENOTSUPP, errno.EOPNOTSUPP]);

/** Queue and stack maps have no keys: get_next_key and the batch commands refuse them with a bare EINVAL. */
export function requireWalkable(core: MapCore, what: string): void {
  if (core.shape.keySize === 0) {
    throw new MapError(core.name, `cannot ${what} a map without keys (${core.describe()})`, {
      code: 'BPF_LOAD_MAP_NOT_WALKABLE',
      hint: 'a queue or stack map is read with peek() and emptied with pop()',
    });
  }
}

/**
 * Every entry of the map as chunks. Survives entries being deleted while it
 * walks (by the loop body or anyone else): a key is never yielded twice, and
 * a walk that keeps being sent back to the start gives up with an error
 * instead of looping. The buffers are reused from chunk to chunk.
 */
export function* walkChunks(core: MapCore, withValues = true): Generator<MapChunk, void, undefined> {
  requireWalkable(core, 'walk');
  if (core.batchSupported.lookup !== false) {
    const first = batchChunks(core, false);
    const step = first.next();
    if (step.value !== 'unsupported') {
      if (step.done) return;
      yield step.value;
      yield* first as Generator<MapChunk, void, undefined>;
      return;
    }
  }
  yield* nextKeyChunks(core, withValues);
}

/**
 * BPF_MAP_LOOKUP_BATCH (or LOOKUP_AND_DELETE_BATCH) chunk by chunk; yields
 * 'unsupported' once, first, when this kernel or map type lacks the command.
 */
export function* batchChunks(core: MapCore, andDelete: boolean): Generator<MapChunk | 'unsupported', void, undefined> {
  const kind = andDelete ? 'lookupAndDelete' : 'lookup';
  let batch: MapBatchOps = core.newBatch(Math.min(WALK_CHUNK, Math.max(core.shape.maxEntries, 1)));
  let chunk = chunkOf(batch, core);
  let first = true;
  const seen = core.batchRestarts ? new SeenKeys(core) : undefined;
  for (;;) {
    const ret = batch.mapLookupBatch(core.fd, first, batch.capacity, andDelete);
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
      throw elementFailed(core, andDelete ? 'lookup_and_delete_batch' : 'lookup_batch', ret, undefined);
    }
    core.batchSupported[kind] = true;
    first = false;
    const count = seen ? seen.keep(batch.keys, batch.values, batch.count, core.shape.keySize, core.valueBytes) : batch.count;
    if (count > 0) yield { ...chunk, count };
    if (ret === -errno.ENOENT) return;
  }
}

/** get_next_key (and a lookup per key `withValues`), FALLBACK_CHUNK entries per chunk. */
export function* nextKeyChunks(core: MapCore, withValues: boolean): Generator<MapChunk, void, undefined> {
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
  let ret = elem.mapGetNextKey(core.fd, true);
  if (ret === -errno.ENOENT) return;
  if (ret < 0) throw elementFailed(core, 'get_next_key', ret, undefined);
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
      ret = elem.mapGetNextKey(fd, false);
      if (ret === -errno.ENOENT) haveCarry = false;
      else if (ret < 0) throw elementFailed(core, 'get_next_key', ret, elem.key);
      else elem.nextKey.copy(carry);
      if (seen && !seen.first(keys, at, keySize)) continue;
      if (withValues) {
        keys.copy(elem.key, 0, at, at + keySize);
        const found = elem.mapLookupElem(fd);
        if (found === -errno.ENOENT) continue; // deleted between the two calls
        if (found < 0) throw elementFailed(core, 'lookup', found, elem.key);
        elem.value.copy(values, count * valueSize);
      }
      count++;
    }
    if (count > 0) yield { keys, keysView, values, valuesView, count, keySize, valueSize };
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
