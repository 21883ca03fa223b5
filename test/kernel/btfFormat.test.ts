import { expect } from 'chai';
import { readElf } from '../../elf/elfFile.js';
import { objectBtf, objectBtfMaps, objectDataSections, type Btf } from '../../elf/btf/index.js';
import { btfCodec } from '../../loader/maps/btfCodec.js';
import { formattedEntry, formattedJson, formattedSection } from '../../loader/maps/btfFormat.js';
import { openMapById } from '../../loader/maps/openMap.js';
import { bpftoolBytes, bpftoolDump } from '../support/bpftool.js';
import { fixtureBytes, fixturePath } from '../support/fixtures.js';
import { requireFeature, requireKernel, requireTool } from '../support/kernel.js';
import { libbpfOracleMissing, loadWithLibbpf } from '../support/libbpfOracle.js';

function objectOf(name: string): { btf: Btf; elf: ReturnType<typeof readElf> } {
  const elf = readElf(fixtureBytes(name), name);
  return { elf, btf: objectBtf(elf, name)! };
}

/** What bpftool's JSON parser would make of our formatted text: the same JSON.parse. */
function asBpftoolParses(value: Parameters<typeof formattedJson>[0]): unknown {
  return JSON.parse(formattedJson(value));
}

describe('BTF codecs and formatting against bpftool on maps libbpf created with BTF', () => {
  beforeEach(function () {
    requireKernel(this);
    requireTool(this, 'bpftool');
    requireFeature(this, 'the libbpf oracle', libbpfOracleMissing());
  });

  it('maps_btf.bpf.o: entries written through BTF codecs read back by bpftool as the same formatted values', async function () {
    this.timeout(60_000);
    const name = 'modern/maps_btf.bpf.o';
    const { elf, btf } = objectOf(name);
    const defs = new Map(objectBtfMaps(elf, btf, name).map(({ spec }) => [spec.name, { ...spec, btf: spec.btf! }]));
    await using libbpf = await loadWithLibbpf(fixturePath(name));
    const flowsDef = defs.get('flows')!;
    using flows = openMapById(libbpf.map('flows').id!, 'flows');
    const typed = flows.typed(btfCodec(btf, flowsDef.btf.keyTypeId), btfCodec(btf, flowsDef.btf.valueTypeId));
    const key = { saddr: 0x0100007f, daddr: 0x0200007f, sport: 8080, dport: 443, proto: 6 };
    typed.update(key, { packets: 3n, bytes: 4096n });
    expect(typed.lookup(key)).to.deep.equal({ packets: 3n, bytes: 4096n });

    const routesDef = defs.get('routes')!;
    using routes = openMapById(libbpf.map('routes').id!, 'routes');
    routes.typed(btfCodec(btf, routesDef.btf.keyTypeId), btfCodec(btf, routesDef.btf.valueTypeId))
      .update({ prefixlen: 24, addr: [10, 1, 2, 0] }, 77);

    const percpuDef = defs.get('percpu_array')!;
    using percpu = openMapById(libbpf.map('percpu_array').id!, 'percpu_array');
    const perCpu = percpu.perCpu(btfCodec(btf, percpuDef.btf.keyTypeId), btfCodec(btf, percpuDef.btf.valueTypeId));
    perCpu.update(1, perCpu.lookup(1)!.map((_, cpu) => ({ packets: BigInt(cpu + 1), bytes: 1000n })));

    for (const [mapName, map] of [['flows', flows], ['routes', routes], ['percpu_array', percpu]] as const) {
      const def = defs.get(mapName)!;
      const dump = bpftoolDump(libbpf.map(mapName).id!);
      expect(dump.length, mapName).to.be.greaterThan(0);
      for (const entry of dump) {
        const keyBytes = bpftoolBytes(entry.key);
        const valueBytes = entry.values ? entry.values.map((v) => bpftoolBytes(v.value)) : bpftoolBytes(entry.value!);
        expect(asBpftoolParses(formattedEntry(btf, def.btf.keyTypeId, def.btf.valueTypeId, keyBytes, valueBytes)), mapName)
          .to.deep.equal(entry.formatted);
      }
      // and the raw bytes our map reads are the ones bpftool read
      expect(map.keySize).to.equal(def.keySize);
    }
  });

  it('globals.bpf.o: data sections formatted by variable as bpftool formats their DATASEC', async function () {
    this.timeout(60_000);
    const name = 'modern/globals.bpf.o';
    const { elf, btf } = objectOf(name);
    await using libbpf = await loadWithLibbpf(fixturePath(name), { variables: { target_tgid: 7, greeting: 'hey' } });
    let compared = 0;
    for (const section of objectDataSections(elf, btf)) {
      const map = libbpf.maps.find((m) => m.internal && m.name.endsWith(section.name));
      if (!map?.id) continue;
      const dump = bpftoolDump(map.id);
      expect(dump).to.have.length(1);
      const value = bpftoolBytes(dump[0]!.value!);
      expect(asBpftoolParses(formattedSection(btf, section.name, section.variables, value)), section.name)
        .to.deep.equal((dump[0]!.formatted as { value: unknown }).value);
      compared++;
    }
    expect(compared).to.be.greaterThanOrEqual(4);
  });
});
