import { expect } from 'chai';
import { BPF_MAP_TYPE, possibleCpus, u32, u64 } from '../../loader/index.js';
import { requireKernel } from '../support/kernel.js';
import { createTestMap, expectMapError, key32 } from '../support/maps.js';
import { bpftoolBytes, bpftoolDump } from '../support/bpftool.js';

describe('kernel: lookupInto(key, out) fills a caller buffer', function () {
  before(function () {
    requireKernel(this);
  });

  it('raw view: true and the value bytes bpftool reads; false for a missing key, the buffer left as it was', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 8, max: 16, name: 'into_hash' });
    map.typed(u32, u64).update(7, 0x1122334455667788n);
    const out = Buffer.alloc(8, 0xee);
    expect(map.lookupInto(key32(7), out)).to.equal(true);
    const seen = bpftoolDump(map.id).find((e) => bpftoolBytes(e.key).equals(key32(7)))!;
    expect(out).to.deep.equal(bpftoolBytes(seen.value!));
    expect(out.readBigUInt64LE()).to.equal(0x1122334455667788n);
    const untouched = Buffer.alloc(8, 0xaa);
    expect(map.lookupInto(key32(8), untouched)).to.equal(false);
    expect(untouched).to.deep.equal(Buffer.alloc(8, 0xaa));
  });

  it('one buffer reused across calls sees each value in turn (no allocation per call needed)', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.ARRAY, key: 4, value: 8, max: 64, name: 'into_array' });
    const typed = map.typed(u32, u64);
    for (let i = 0; i < 64; i++) typed.update(i, BigInt(i) * 3n);
    const out = new Uint8Array(8);
    const view = new DataView(out.buffer);
    const read: bigint[] = [];
    for (let i = 0; i < 64; i++) {
      expect(typed.lookupInto(i, out)).to.equal(true);
      read.push(view.getBigUint64(0, true));
    }
    expect(read).to.deep.equal(Array.from({ length: 64 }, (_, i) => BigInt(i) * 3n));
  });

  it('per-CPU map: out holds every possible CPU slot, as perCpu().lookup decodes them', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.PERCPU_ARRAY, key: 4, value: 4, max: 2, name: 'into_pcpu' });
    const cpus = possibleCpus();
    map.perCpu(u32, u32).update(1, Array.from({ length: cpus }, (_, cpu) => cpu + 100));
    expect(map.valueBytes).to.equal(cpus * 8);
    const out = Buffer.alloc(map.valueBytes);
    expect(map.lookupInto(key32(1), out)).to.equal(true);
    expect(Array.from({ length: cpus }, (_, cpu) => out.readUInt32LE(cpu * 8))).to.deep.equal(
      map.perCpu(u32, u32).lookup(1),
    );
  });

  it('refuses an out of the wrong size or type, and a closed map, naming the map', () => {
    const map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 8, max: 4, name: 'into_bad' });
    try {
      expectMapError(() => map.lookupInto(key32(1), Buffer.alloc(4)), 'BPF_LOAD_MAP_SIZE', /map 'into_bad': lookupInto: out is 4 bytes, the map's values are 8/);
      expectMapError(() => map.lookupInto(key32(1), 'abc' as unknown as Buffer), 'BPF_LOAD_ARGUMENT', /out must be a Uint8Array or Buffer of 8 bytes, not string/);
      expectMapError(() => map.lookupInto(Buffer.alloc(3), Buffer.alloc(8)), 'BPF_LOAD_MAP_SIZE', /key is 3 bytes, the map's key_size is 4/);
    } finally {
      map.close();
    }
    expectMapError(() => map.lookupInto(key32(1), Buffer.alloc(8)), 'BPF_LOAD_MAP_CLOSED', /used after close/);
  });
});

describe('kernel: getNextKeyInto(key, out) fills a caller buffer', function () {
  before(function () {
    requireKernel(this);
  });

  it('raw view: walks every key in place (out is the key buffer), false at the end with out untouched', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 8, max: 256, name: 'nextinto_hash' });
    const typed = map.typed(u32, u64);
    for (let i = 0; i < 200; i++) typed.update(i * 3, 1n);
    const key = Buffer.alloc(4);
    const seen: number[] = [];
    for (let more = map.getNextKeyInto(undefined, key); more; more = map.getNextKeyInto(key, key)) seen.push(key.readUInt32LE());
    expect([...seen].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 200 }, (_, i) => i * 3));
    expect(key.readUInt32LE()).to.equal(seen.at(-1));
    const order: number[] = [];
    for (let k = map.getNextKey(); k !== undefined; k = map.getNextKey(k)) order.push(k.readUInt32LE());
    expect(seen).to.deep.equal(order);
  });

  it('typed view: the key as the codec takes it, the next key as raw bytes', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.ARRAY, key: 4, value: 8, max: 4, name: 'nextinto_arr' });
    const typed = map.typed(u32, u64);
    const out = new Uint8Array(4);
    expect(typed.getNextKeyInto(undefined, out)).to.equal(true);
    expect(Buffer.from(out).readUInt32LE()).to.equal(0);
    expect(typed.getNextKeyInto(2, out)).to.equal(true);
    expect(Buffer.from(out).readUInt32LE()).to.equal(3);
    out.fill(0xaa);
    expect(typed.getNextKeyInto(3, out)).to.equal(false);
    expect(Array.from(out)).to.deep.equal([0xaa, 0xaa, 0xaa, 0xaa]);
  });

  it('refuses an out of the wrong size or type, a bad key and a closed map, naming the map', () => {
    const map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 8, max: 4, name: 'nextinto_bad' });
    try {
      expectMapError(() => map.getNextKeyInto(undefined, Buffer.alloc(8)), 'BPF_LOAD_MAP_SIZE', /map 'nextinto_bad': getNextKeyInto: out is 8 bytes, the map's key_size is 4/);
      expectMapError(() => map.getNextKeyInto(undefined, [0, 0, 0, 0] as unknown as Buffer), 'BPF_LOAD_ARGUMENT', /getNextKeyInto: out must be a Uint8Array or Buffer of 4 bytes, not object/);
      expectMapError(() => map.getNextKeyInto(Buffer.alloc(3), Buffer.alloc(4)), 'BPF_LOAD_MAP_SIZE', /key is 3 bytes, the map's key_size is 4/);
      expectMapError(() => map.typed(u32, u64).getNextKeyInto(-1, Buffer.alloc(4)), 'BPF_LOAD_MAP_ENCODE', /cannot encode key as u32/);
    } finally {
      map.close();
    }
    expectMapError(() => map.getNextKeyInto(undefined, Buffer.alloc(4)), 'BPF_LOAD_MAP_CLOSED', /used after close/);
  });
});
