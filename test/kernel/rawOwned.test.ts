import { expect } from 'chai';
import { BPF_MAP_TYPE, possibleCpus, u32, u64 } from '../../loader/index.js';
import { requireKernel } from '../support/kernel.js';
import { createTestMap, expectMapError, key32 } from '../support/maps.js';

describe('kernel: the raw view returns Buffers the caller owns', function () {
  before(function () {
    requireKernel(this);
  });

  it('lookup: every returned Buffer keeps its own value, across many calls (more than one slab of them)', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 8, max: 4096, name: 'owned_values' });
    const typed = map.typed(u32, u64);
    for (let i = 0; i < 3000; i++) typed.update(i, BigInt(i) * 1000003n);
    const got = Array.from({ length: 3000 }, (_, i) => map.lookup(key32(i))!);
    for (let i = 0; i < 3000; i++) {
      expect(Buffer.isBuffer(got[i])).to.equal(true);
      expect(got[i]!.byteLength).to.equal(8);
      expect(got[i]!.readBigUInt64LE()).to.equal(BigInt(i) * 1000003n);
    }
    got[0]!.fill(0xff);
    expect(got[1]!.readBigUInt64LE()).to.equal(1000003n);
    expect(map.lookup(key32(0))!.readBigUInt64LE()).to.equal(0n);
  });

  it('lookup: a missing key returns undefined and leaves the Buffers already returned as they were', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 8, max: 16, name: 'owned_miss' });
    map.typed(u32, u64).update(1, 11n);
    map.typed(u32, u64).update(2, 22n);
    const first = map.lookup(key32(1))!;
    expect(map.lookup(key32(9))).to.equal(undefined);
    const second = map.lookup(key32(2))!;
    expect([first.readBigUInt64LE(), second.readBigUInt64LE()]).to.deep.equal([11n, 22n]);
  });

  it('getNextKey: the keys of a walk stay distinct and intact after it', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 8, max: 4096, name: 'owned_keys' });
    const typed = map.typed(u32, u64);
    for (let i = 0; i < 2500; i++) typed.update(i * 7, 1n);
    const keys: Buffer[] = [];
    for (let k = map.getNextKey(); k !== undefined; k = map.getNextKey(k)) keys.push(k);
    const numbers = keys.map((k) => k.readUInt32LE());
    expect(new Set(numbers).size).to.equal(2500);
    expect([...numbers].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 2500 }, (_, i) => i * 7));
  });

  it('a Buffer whose memory was transferred away does not stop later lookups, nor get written', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.ARRAY, key: 4, value: 8, max: 4, name: 'owned_moved' });
    const typed = map.typed(u32, u64);
    typed.update(1, 5n);
    typed.update(2, 6n);
    const first = map.lookup(key32(1))!;
    const slab = first.buffer as ArrayBuffer;
    const moved = new Uint8Array(structuredClone(slab, { transfer: [slab] }));
    const before = Buffer.from(moved);
    expect(first.byteLength).to.equal(0);
    const second = map.lookup(key32(2))!;
    expect(second.readBigUInt64LE()).to.equal(6n);
    expect(map.getNextKey(key32(0))!.readUInt32LE()).to.equal(1);
    expect(Buffer.from(moved)).to.deep.equal(before);
  });

  it('per-CPU map: a Buffer of every possible CPU slot; values larger than a slab work too', () => {
    using pcpu = createTestMap({ type: BPF_MAP_TYPE.PERCPU_ARRAY, key: 4, value: 4, max: 2, name: 'owned_pcpu' });
    const cpus = possibleCpus();
    pcpu.perCpu(u32, u32).update(1, Array.from({ length: cpus }, (_, cpu) => cpu + 100));
    const raw = pcpu.lookup(key32(1))!;
    expect(raw.byteLength).to.equal(cpus * 8);
    expect(Array.from({ length: cpus }, (_, cpu) => raw.readUInt32LE(cpu * 8))).to.deep.equal(pcpu.perCpu(u32, u32).lookup(1));

    using big = createTestMap({ type: BPF_MAP_TYPE.ARRAY, key: 4, value: 12000, max: 3, name: 'owned_big' });
    for (let i = 0; i < 3; i++) big.update(key32(i), Buffer.alloc(12000, i + 1));
    const values = [0, 1, 2, 0, 1, 2].map((i) => big.lookup(key32(i))!);
    values.forEach((value, n) => expect(value).to.deep.equal(Buffer.alloc(12000, (n % 3) + 1)));
  });

  it('errors are those of the other views: key size, flags, closed map', () => {
    const map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 8, max: 4, name: 'owned_bad' });
    try {
      expectMapError(() => map.lookup(Buffer.alloc(3)), 'BPF_LOAD_MAP_SIZE', /map 'owned_bad': key is 3 bytes, the map's key_size is 4/);
      expectMapError(() => map.getNextKey(Buffer.alloc(5)), 'BPF_LOAD_MAP_SIZE', /key is 5 bytes, the map's key_size is 4/);
      expectMapError(() => map.lookup(7 as unknown as Buffer), 'BPF_LOAD_MAP_ENCODE', /cannot encode key as bytes\[4\]/);
      expect(() => map.lookup(key32(1), -1)).to.throw(/flags/);
    } finally {
      map.close();
    }
    expectMapError(() => map.lookup(key32(1)), 'BPF_LOAD_MAP_CLOSED', /used after close/);
    expectMapError(() => map.getNextKey(), 'BPF_LOAD_MAP_CLOSED', /used after close/);
  });
});
