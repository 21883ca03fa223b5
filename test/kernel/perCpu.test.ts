import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { BPF_MAP_TYPE, MapError, possibleCpus, struct, u32, u64 } from '../../loader/index.js';
import { parseCpuList } from '../../loader/maps/perCpu.js';
import { requireKernel } from '../support/kernel.js';
import { createTestMap } from '../support/maps.js';
import { bpftoolBytes, bpftoolDump } from '../support/bpftool.js';

describe('kernel: per-CPU maps (one 8-byte-aligned slot per possible CPU)', function () {
  let cpus = 0;
  before(function () {
    requireKernel(this);
    cpus = possibleCpus();
  });

  it('possibleCpus() counts /sys/devices/system/cpu/possible', () => {
    expect(cpus).to.equal(parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8')));
    expect(cpus).to.be.greaterThan(0);
  });

  for (const [label, type] of [
    ['percpu_hash', BPF_MAP_TYPE.PERCPU_HASH],
    ['percpu_array', BPF_MAP_TYPE.PERCPU_ARRAY],
    ['lru_percpu_hash', BPF_MAP_TYPE.LRU_PERCPU_HASH],
  ] as const) {
    it(`${label} with value_size 12: an array of per-CPU structs round-trips; bpftool sees each CPU's value`, () => {
      using map = createTestMap({ type, key: 4, value: 12, max: 8, name: label });
      expect(map.isPerCpu).to.equal(true);
      expect(map.valueBytes).to.equal(16 * cpus);
      const counters = struct({ packets: u32, bytes: u64 }, { packed: true });
      expect(counters.size).to.equal(12);
      const view = map.perCpu(u32, counters);
      const values = Array.from({ length: cpus }, (_, cpu) => ({ packets: cpu + 1, bytes: BigInt(1000 * (cpu + 1)) }));
      view.update(3, values);
      expect(view.lookup(3)).to.deep.equal(values);
      const entry = bpftoolDump(map.id).find((e) => bpftoolBytes(e.key).readUInt32LE() === 3)!;
      expect(entry.values).to.have.length(cpus);
      for (const { cpu, value } of entry.values!) {
        const bytes = bpftoolBytes(value);
        expect(bytes.length, 'bpftool shows value_size bytes per CPU').to.equal(12);
        expect(bytes.readUInt32LE(0)).to.equal(cpu + 1);
        expect(bytes.readBigUInt64LE(4)).to.equal(BigInt(1000 * (cpu + 1)));
      }
      // walks give per-CPU arrays too (batch lookups copy the same layout)
      expect([...view.entries()].find(([k]) => k === 3)?.[1]).to.deep.equal(values);
      // the raw view is the kernel's whole buffer: slot i at i * 16
      const raw = map.lookup(Buffer.from([3, 0, 0, 0]))!;
      expect(raw.length).to.equal(16 * cpus);
      for (let cpu = 0; cpu < cpus; cpu++) expect(raw.readUInt32LE(cpu * 16)).to.equal(cpu + 1);
    });
  }

  it('the classic mistake (value_size bytes for a per-CPU value) is refused with the layout explained', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.PERCPU_HASH, key: 4, value: 8, max: 8, name: 'pcpu' });
    expect(() => map.update(Buffer.alloc(4), Buffer.alloc(8))).to.throw(
      MapError,
      new RegExp(`value is 8 bytes, the map's value size is ${8 * cpus}: a per-CPU value is one 8-byte slot \\(value_size 8 rounded up to 8\\) per possible CPU, ${cpus} here`),
    );
    expect(() => map.typed(u32, u64)).to.throw(MapError, /use map.perCpu\(keyCodec, valueCodec\)/);
    const view = map.perCpu(u32, u64);
    const tooMany = Array.from({ length: cpus + 1 }, () => 1n);
    expect(() => view.update(1, tooMany)).to.throw(MapError, new RegExp(`one value per possible CPU \\(${cpus}\\), got an array of ${cpus + 1}`));
    expect(() => view.update(1, 1n as never)).to.throw(MapError, /got bigint/);
    view.update(2, Array.from({ length: cpus }, () => 7n));
    expect(view.lookup(2)).to.deep.equal(Array.from({ length: cpus }, () => 7n));
    const rawView = map.perCpu();
    expect(rawView.lookup(Buffer.from([2, 0, 0, 0]))!.map((b) => b.readBigUInt64LE())).to.deep.equal(Array.from({ length: cpus }, () => 7n));
  });

  it('a per-CPU value narrower than 8 bytes: padding is written as zeros, bpftool sees value_size bytes', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.PERCPU_ARRAY, key: 4, value: 4, max: 2 });
    const view = map.perCpu(u32, u32);
    view.update(1, Array.from({ length: cpus }, (_, cpu) => 0xffffffff - cpu));
    const raw = map.lookup(Buffer.from([1, 0, 0, 0]))!;
    for (let cpu = 0; cpu < cpus; cpu++) expect(raw.readUInt32LE(cpu * 8 + 4)).to.equal(0);
    const entry = bpftoolDump(map.id)[1]!;
    expect(entry.values!.map((v) => bpftoolBytes(v.value).readUInt32LE())).to.deep.equal(
      Array.from({ length: cpus }, (_, cpu) => 0xffffffff - cpu),
    );
  });
});
