import { BPF_MAP_TYPE, errno, type MapBatchOps } from '../../syscall/index.js';
import { MapError } from '../errors.js';
import { elementFailed } from './elementErrors.js';
import type { MapCore } from './mapCore.js';
import { BATCH_UNSUPPORTED, WALK_CHUNK, batchChunks, nextKeyChunks, requireWalkable, walkChunks, type MapChunk } from './mapWalk.js';

/**
 * The batch operations of a map, in the kernel's layout: BPF_MAP_UPDATE_BATCH,
 * BPF_MAP_DELETE_BATCH and BPF_MAP_LOOKUP_AND_DELETE_BATCH in chunks where the
 * kernel and map type have them, one element command per entry where not.
 * Which of the two a map takes is learnt on the first call and kept on its
 * core. The views encode and decode around these.
 */

/**
 * Store `count` entries: `fill` encodes entries [start, start + n) into the
 * batch's keys and values; where the kernel lacks BPF_MAP_UPDATE_BATCH,
 * `one(i)` stores entry i by itself. Returns how many were written.
 */
export function updateEntries(
  core: MapCore, count: number, flags: number,
  fill: (batch: MapBatchOps, start: number, n: number) => void,
  one: (index: number) => void,
): number {
  if (count === 0) return 0;
  const batch = core.newBatch(Math.min(count, WALK_CHUNK));
  const { keySize } = core.shape;
  let written = 0;
  for (let start = 0; start < count; start += batch.capacity) {
    const n = Math.min(batch.capacity, count - start);
    fill(batch, start, n);
    if (core.batchSupported.update !== false) {
      const ret = batch.mapUpdateBatch(core.fd, n, flags);
      if (ret === 0) {
        core.batchSupported.update = true;
        written += n;
        continue;
      }
      // an unsupported command fails before the kernel touches attr.batch.count
      if (!(core.batchSupported.update === undefined && written === 0 && BATCH_UNSUPPORTED.has(-ret))) {
        const failedAt = batch.count;
        throw elementFailed(core, 'update_batch', ret, batch.keys.subarray(failedAt * keySize, (failedAt + 1) * keySize), flags, written + failedAt);
      }
      core.batchSupported.update = false;
    }
    for (let i = 0; i < n; i++) {
      one(start + i);
      written++;
    }
  }
  return written;
}

/** Delete `count` keys laid out back to back in `raw`; missing keys are skipped. Returns how many were deleted. */
export function deleteKeys(core: MapCore, raw: Buffer, count: number): number {
  if (count === 0) return 0;
  const { keySize } = core.shape;
  const batch = core.newBatch(Math.min(count, WALK_CHUNK));
  let deleted = 0;
  for (let start = 0; start < count; start += batch.capacity) {
    const n = Math.min(batch.capacity, count - start);
    let done = 0;
    while (core.batchSupported.delete !== false && done < n) {
      // the kernel stops at the first missing key and says how many it deleted before it
      raw.copy(batch.keys, 0, (start + done) * keySize, (start + n) * keySize);
      const ret = batch.mapDeleteBatch(core.fd, n - done);
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
        throw elementFailed(core, 'delete_batch', ret, batch.keys.subarray(batch.count * keySize, (batch.count + 1) * keySize));
      }
    }
    if (core.batchSupported.delete === false) {
      const elem = core.elem;
      for (let i = start + done; i < start + n; i++) {
        raw.copy(elem.key, 0, i * keySize, (i + 1) * keySize);
        const ret = elem.mapDeleteElem(core.fd);
        if (ret === 0) deleted++;
        else if (ret !== -errno.ENOENT) throw elementFailed(core, 'delete', ret, elem.key);
      }
    }
  }
  return deleted;
}

/** Arrays have every key from 0 to max_entries - 1 for their whole life: the kernel refuses to delete one (EINVAL). */
function requireDeletable(core: MapCore, what: string): void {
  if (core.shape.type === BPF_MAP_TYPE.ARRAY || core.shape.type === BPF_MAP_TYPE.PERCPU_ARRAY) {
    throw new MapError(core.name, `cannot ${what} an array map: its entries cannot be deleted, every index exists as long as the map (${core.describe()})`, {
      code: 'BPF_LOAD_ARGUMENT',
      hint: 'zero the values instead: map.update(key, zeros) for each index',
    });
  }
}

/**
 * Delete every entry, handing each chunk to `collect` before its keys go
 * (BPF_MAP_LOOKUP_AND_DELETE_BATCH, or walk + delete); refused for arrays.
 */
export function drainChunks(core: MapCore, collect: (chunk: MapChunk) => void): void {
  requireDeletable(core, 'drain');
  requireWalkable(core, 'drain');
  if (core.batchSupported.lookupAndDelete !== false) {
    const walk = batchChunks(core, true);
    let step = walk.next();
    if (step.value !== 'unsupported') {
      for (; !step.done; step = walk.next()) collect(step.value as MapChunk);
      return;
    }
  }
  for (const chunk of nextKeyChunks(core, true)) {
    collect(chunk);
    deleteKeys(core, chunk.keys, chunk.count);
  }
}

/** Delete every entry; returns how many were deleted. Refused for arrays, whose entries cannot be deleted. */
export function clearAll(core: MapCore): number {
  requireDeletable(core, 'clear');
  const parts: Buffer[] = [];
  let count = 0;
  for (const chunk of walkChunks(core, false)) {
    parts.push(Buffer.from(chunk.keys.subarray(0, chunk.count * chunk.keySize)));
    count += chunk.count;
  }
  return deleteKeys(core, Buffer.concat(parts), count);
}
