import { expect } from 'chai';
import { isBpfLoadError, loadBpfFile, openMapById } from '../../loader/index.js';
import { bpftoolBytes, bpftoolDump } from '../support/bpftool.js';
import { fixturePath } from '../support/fixtures.js';
import { requireKernel, requireTool } from '../support/kernel.js';

describe('kernel: map.typed() without codecs decodes by the map\'s BTF types', () => {
  beforeEach(function () {
    requireKernel(this);
  });

  it('maps_btf.bpf.o: a struct-keyed map written and read through the BTF view, as bpftool formats it', async function () {
    requireTool(this, 'bpftool');
    this.timeout(60_000);
    await using object = await loadBpfFile(fixturePath('modern/maps_btf.bpf.o'));
    const flows = object.map('flows').typed();
    const key = { saddr: 0x0100007f, daddr: 0x0200007f, sport: 8080, dport: 443, proto: 6 };
    flows.update(key, { packets: 3n, bytes: 4096n });
    expect(flows.lookup(key)).to.deep.equal({ packets: 3n, bytes: 4096n });
    expect([...flows.keys()]).to.deep.equal([key]);

    const dump = bpftoolDump(object.map('flows').id);
    expect(dump).to.have.length(1);
    expect(dump[0]!.formatted).to.deep.equal({ key, value: { packets: 3, bytes: 4096 } });
    // the raw bytes bpftool read are the ones the codecs wrote
    const [rawKey] = [...object.map('flows').keys()];
    expect(bpftoolBytes(dump[0]!.key).equals(rawKey!)).to.equal(true);
    expect(bpftoolBytes(dump[0]!.value!).equals(object.map('flows').lookup(rawKey!)!)).to.equal(true);
  });

  it('an LPM trie keyed by a struct with an array member, and a plain u32 → u64 hash', async function () {
    await using object = await loadBpfFile(fixturePath('modern/maps_btf.bpf.o'));
    const routes = object.map('routes').typed();
    routes.update({ prefixlen: 24, addr: [10, 1, 2, 0] }, 77);
    expect(routes.lookup({ prefixlen: 32, addr: [10, 1, 2, 9] })).to.equal(77);
    const sparse = object.map('sparse_hash').typed();
    sparse.update(5, 10n);
    expect(sparse.lookup(5)).to.equal(10n);
  });

  it('a map opened by id (made by any loader) decodes by the BTF the kernel holds for it', async function () {
    await using object = await loadBpfFile(fixturePath('modern/maps_btf.bpf.o'));
    const key = { saddr: 0x0100007f, daddr: 0x0200007f, sport: 53, dport: 5353, proto: 17 };
    object.map('flows').typed().update(key, { packets: 1n, bytes: 512n });
    using opened = openMapById(object.map('flows').id);
    expect(opened.typed().lookup(key)).to.deep.equal({ packets: 1n, bytes: 512n });
    await using legacyObject = await loadBpfFile(fixturePath('map_def28_kern.o'));
    using legacy = openMapById(legacyObject.maps[0]!.id);
    expect(() => legacy.typed()).to.throw(/no BTF key and value types/);
  });

  it('a map without BTF key/value types, or a per-CPU map, is refused with a clear error', async function () {
    await using modern = await loadBpfFile(fixturePath('modern/maps_btf.bpf.o'));
    expect(() => modern.map('sized_array').typed()).to.throw(/declares no BTF key type/)
      .that.satisfies((e: unknown) => isBpfLoadError(e) && e.code === 'BPF_LOAD_ARGUMENT');
    expect(() => modern.map('percpu_array').typed()).to.throw(/perCpu/);
    await using legacy = await loadBpfFile(fixturePath('map_def28_kern.o'));
    expect(() => legacy.maps[0]!.typed()).to.throw(/no BTF key and value types/)
      .that.satisfies((e: unknown) => isBpfLoadError(e) && e.code === 'BPF_LOAD_ARGUMENT');
  });
});
