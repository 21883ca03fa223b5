import { expect } from 'chai';
import { BPF_MAP_TYPE, BPF_NOEXIST, MapError, u32, u64 } from '../../loader/index.js';
import {
  BPF_MAP_DELETE_BATCH, BPF_MAP_DELETE_ELEM, BPF_MAP_GET_NEXT_KEY, BPF_MAP_LOOKUP_AND_DELETE_BATCH, BPF_MAP_LOOKUP_BATCH,
  BPF_MAP_UPDATE_BATCH, BPF_MAP_UPDATE_ELEM, errno, overrideBpfSyscall,
} from '../../syscall/index.js';
import { requireKernel } from '../support/kernel.js';
import { createTestMap } from '../support/maps.js';
import { bpftoolBytes, bpftoolDump } from '../support/bpftool.js';

const BATCH_COMMANDS = new Set([BPF_MAP_LOOKUP_BATCH, BPF_MAP_LOOKUP_AND_DELETE_BATCH, BPF_MAP_UPDATE_BATCH, BPF_MAP_DELETE_BATCH]);

/**
 * Runs `body` once with the kernel's batch commands and once with them
 * failing EINVAL (an older kernel, a map type without them), counting the
 * commands each run made.
 */
function bothWays(
  title: string,
  body: (calls: Map<number, number>, mode: 'batch' | 'fallback') => void,
  { maps = 1, bodyWalksKeys = false } = {},
): void {
  for (const mode of ['batch', 'fallback'] as const) {
    it(`${title} [${mode}]`, () => {
      const calls = new Map<number, number>();
      const restore = overrideBpfSyscall((cmd, attr, size, real) => {
        calls.set(cmd, (calls.get(cmd) ?? 0) + 1);
        if (mode === 'fallback' && BATCH_COMMANDS.has(cmd)) return -errno.EINVAL;
        return real(cmd, attr, size);
      });
      try {
        body(calls, mode);
      } finally {
        restore();
      }
      if (mode === 'batch') {
        if (!bodyWalksKeys) expect(calls.get(BPF_MAP_GET_NEXT_KEY) ?? 0, 'no get_next_key when batches work').to.equal(0);
      } else {
        // a map learns from the first failed call of each batch command: one probe per command and map
        let probes = 0;
        for (const cmd of BATCH_COMMANDS) {
          expect(calls.get(cmd) ?? 0).to.be.at.most(maps);
          probes += calls.get(cmd) ?? 0;
        }
        expect(probes).to.be.at.least(maps);
      }
    });
  }
}

describe('kernel: batch operations, with and without kernel support', function () {
  before(function () {
    requireKernel(this);
  });

  bothWays('updateBatch writes 10000 entries, bpftool and a walk read them back', (calls, mode) => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 8, max: 10000 });
    const typed = map.typed(u32, u64);
    const entries: [number, bigint][] = Array.from({ length: 10000 }, (_, i) => [i * 7, BigInt(i) << 33n]);
    expect(typed.updateBatch(entries)).to.equal(10000);
    const dump = bpftoolDump(map.id);
    expect(dump).to.have.length(10000);
    const fromBpftool = new Map(dump.map((e) => [bpftoolBytes(e.key).readUInt32LE(), bpftoolBytes(e.value!).readBigUInt64LE()]));
    expect(fromBpftool).to.deep.equal(new Map(entries));
    const walked = new Map(typed.entries());
    expect(walked).to.deep.equal(new Map(entries));
    expect(calls.get(BPF_MAP_UPDATE_ELEM) ?? 0).to.equal(mode === 'batch' ? 0 : 10000);
    if (mode === 'batch') expect(calls.get(BPF_MAP_UPDATE_BATCH)).to.equal(Math.ceil(10000 / 4096));
  });

  bothWays('updateBatch with BPF_NOEXIST stops at an existing key and says which entry', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 4, max: 64, name: 'batch_ne' });
    const typed = map.typed(u32, u32);
    typed.update(5, 50);
    expect(() => typed.updateBatch([[1, 1], [2, 2], [5, 5], [6, 6]], BPF_NOEXIST)).to.throw(MapError, /key 05000000.* the key already exists \(BPF_NOEXIST\)/);
    expect(typed.lookup(5)).to.equal(50);
    expect(typed.lookup(1)).to.equal(1);
  });

  bothWays('deleteBatch skips missing keys and counts what it deleted', (calls, mode) => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 4, max: 1024 });
    const typed = map.typed(u32, u32);
    typed.updateBatch(Array.from({ length: 1000 }, (_, i) => [i, i]));
    const keys = [3, 1000, 4, 5, 2000, 6, 3];
    expect(typed.deleteBatch(keys)).to.equal(4);
    expect(typed.count()).to.equal(996);
    for (const k of [3, 4, 5, 6]) expect(typed.lookup(k)).to.equal(undefined);
    expect(typed.clear()).to.equal(996);
    expect(typed.count()).to.equal(0);
    expect(bpftoolDump(map.id)).to.deep.equal([]);
    // batch: the kernel stops at each of the 3 missing keys, so 4 calls for the first list; fallback: one per key
    expect(calls.get(BPF_MAP_DELETE_ELEM) ?? 0).to.equal(mode === 'batch' ? 0 : keys.length + 996);
  });

  bothWays('drain() returns every entry and leaves the map empty', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 8, max: 5000 });
    const typed = map.typed(u32, u64);
    const entries: [number, bigint][] = Array.from({ length: 5000 }, (_, i) => [i + 1, BigInt(i)]);
    typed.updateBatch(entries);
    const drained = typed.drain();
    expect(drained).to.have.length(5000);
    expect(new Map(drained)).to.deep.equal(new Map(entries));
    expect(typed.count()).to.equal(0);
  });

  bothWays('iteration survives the loop deleting keys it has not reached yet: no duplicates, no endless loop', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 4, max: 2048 });
    const typed = map.typed(u32, u32);
    typed.updateBatch(Array.from({ length: 2000 }, (_, i) => [i, i]));
    const seen = new Map<number, number>();
    let steps = 0;
    for (const key of typed.keys()) {
      seen.set(key, (seen.get(key) ?? 0) + 1);
      expect(++steps).to.be.at.most(2000);
      // delete whatever get_next_key would visit next, which sends a hash walk back to its first key
      const next = typed.getNextKey(key);
      if (next !== undefined) typed.delete(next);
    }
    expect([...seen.values()].every((n) => n === 1)).to.equal(true);
    const remaining = new Set(typed.keys());
    for (const key of remaining) expect(seen.has(key), `remaining key ${key} was visited`).to.equal(true);
  }, { bodyWalksKeys: true });

  bothWays('array and per-CPU array walks', () => {
    using array = createTestMap({ type: BPF_MAP_TYPE.ARRAY, key: 4, value: 8, max: 300 });
    const typed = array.typed(u32, u64);
    typed.updateBatch(Array.from({ length: 300 }, (_, i) => [i, BigInt(i * i)]));
    expect([...typed.entries()]).to.deep.equal(Array.from({ length: 300 }, (_, i) => [i, BigInt(i * i)]));
    using percpu = createTestMap({ type: BPF_MAP_TYPE.PERCPU_ARRAY, key: 4, value: 4, max: 100 });
    const view = percpu.perCpu(u32, u32);
    const cpus = percpu.possibleCpus;
    view.updateBatch(Array.from({ length: 100 }, (_, i) => [i, Array.from({ length: cpus }, (_, cpu) => i * 10 + cpu)]));
    const walked = [...view.entries()];
    expect(walked).to.have.length(100);
    expect(walked[42]).to.deep.equal([42, Array.from({ length: cpus }, (_, cpu) => 420 + cpu)]);
  }, { maps: 2 });

  bothWays('forEachRaw reuses one key and one value buffer; readColumns returns the whole map in two buffers', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 4, max: 10000 });
    const typed = map.typed(u32, u32);
    typed.updateBatch(Array.from({ length: 9000 }, (_, i) => [i, i + 1]));
    const keyBuffers = new Set<Buffer>();
    let sum = 0;
    let visits = 0;
    map.forEachRaw((key, value) => {
      keyBuffers.add(key);
      expect(value.readUInt32LE()).to.equal(key.readUInt32LE() + 1);
      sum += value.readUInt32LE();
      visits++;
    });
    expect(visits).to.equal(9000);
    expect(keyBuffers.size).to.equal(1);
    expect(sum).to.equal((9000 * 9001) / 2);
    let stoppedAfter = 0;
    map.forEachRaw(() => ++stoppedAfter < 10);
    expect(stoppedAfter).to.equal(10);
    const columns = map.readColumns();
    expect(columns.count).to.equal(9000);
    expect(columns.keys.length).to.equal(9000 * 4);
    expect(columns.values.length).to.equal(9000 * 4);
    for (let i = 0; i < columns.count; i++) {
      expect(columns.values.readUInt32LE(i * 4)).to.equal(columns.keys.readUInt32LE(i * 4) + 1);
    }
  });

  it('get_next_key fallback: a walk sent back to the first key (its position deleted meanwhile) yields every key once', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 4, max: 4096 });
    const typed = map.typed(u32, u32);
    let nextKeyCalls = 0;
    const restore = overrideBpfSyscall((cmd, attr, size, real) => {
      if (BATCH_COMMANDS.has(cmd)) return -errno.EINVAL;
      // three steps behave as if another process had just deleted the walk's position:
      // get_next_key on a key that is gone answers with the first key
      if (cmd === BPF_MAP_GET_NEXT_KEY && [500, 1200, 1900].includes(++nextKeyCalls)) attr.fill(0, 8, 16);
      return real(cmd, attr, size);
    });
    try {
      typed.updateBatch(Array.from({ length: 2000 }, (_, i) => [i, i]));
      const yielded = new Map<number, number>();
      for (const key of typed.keys()) yielded.set(key, (yielded.get(key) ?? 0) + 1);
      expect(yielded.size).to.equal(2000);
      expect([...yielded.values()].every((n) => n === 1), 'no key twice').to.equal(true);
      expect(nextKeyCalls, 'the walk was sent back and skipped what it had seen').to.be.greaterThan(2001 + 1000);
    } finally {
      restore();
    }
  });

  it('get_next_key fallback: a walk that never gets anywhere gives up with an error instead of looping', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 4, max: 16, name: 'restarts' });
    const typed = map.typed(u32, u32);
    typed.update(1, 1);
    typed.update(2, 2);
    typed.update(3, 3);
    const restore = overrideBpfSyscall((cmd, attr, size, real) => {
      if (BATCH_COMMANDS.has(cmd)) return -errno.EINVAL;
      // every key is "deleted" under the walk: get_next_key always answers with the first key
      if (cmd === BPF_MAP_GET_NEXT_KEY) attr.fill(0, 8, 16);
      return real(cmd, attr, size);
    });
    try {
      const yielded: number[] = [];
      expect(() => {
        for (const key of typed.keys()) yielded.push(key);
      }).to.throw(MapError, /map 'restarts': walk aborted after \d+ revisited keys/);
      expect(yielded, "keys are collected a chunk at a time").to.deep.equal([]);
    } finally {
      restore();
    }
  });

  it('a hash bucket larger than the batch (ENOSPC) makes the walk grow its buffers and carry on from the same cursor', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 4, max: 64 });
    const typed = map.typed(u32, u32);
    typed.updateBatch(Array.from({ length: 50 }, (_, i) => [i, i]));
    const requested: number[] = [];
    let refused = false;
    const restore = overrideBpfSyscall((cmd, attr, size, real) => {
      if (cmd !== BPF_MAP_LOOKUP_BATCH) return real(cmd, attr, size);
      requested.push(attr.readUInt32LE(32));
      if (!refused) {
        refused = true;
        attr.writeUInt32LE(0, 32);
        return -errno.ENOSPC;
      }
      return real(cmd, attr, size);
    });
    try {
      expect(new Map(typed.entries())).to.deep.equal(new Map(Array.from({ length: 50 }, (_, i) => [i, i])));
    } finally {
      restore();
    }
    expect(requested.slice(0, 2)).to.deep.equal([64, 256]);
  });

  it('an array has LOOKUP_BATCH but not LOOKUP_AND_DELETE_BATCH: drain() is refused, walks keep using batches', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.ARRAY, key: 4, value: 4, max: 8, name: 'no_drain' });
    const typed = map.typed(u32, u32);
    const refusal = /^map 'no_drain': cannot (drain|clear) an array map: its entries cannot be deleted/;
    expect(() => typed.drain()).to.throw(MapError, refusal).with.property('code', 'BPF_LOAD_ARGUMENT');
    expect(() => typed.clear()).to.throw(MapError, refusal).with.property('hint').that.matches(/zero the values/);
    const calls = new Map<number, number>();
    const restore = overrideBpfSyscall((cmd, attr, size, real) => {
      calls.set(cmd, (calls.get(cmd) ?? 0) + 1);
      return real(cmd, attr, size);
    });
    try {
      expect(typed.count()).to.equal(8);
    } finally {
      restore();
    }
    // a full chunk, then the call that says the walk is over (ENOENT)
    expect(calls.get(BPF_MAP_LOOKUP_BATCH)).to.equal(2);
    expect(calls.get(BPF_MAP_GET_NEXT_KEY) ?? 0).to.equal(0);
  });
});
