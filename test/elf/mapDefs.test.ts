import { expect } from 'chai';
import { parseObject, ElfError, mapOrder, type MapSpec } from '../../elf/index.js';
import { EXPECTED_MAPS } from '../support/expectedMaps.js';
import { fixtureBytes } from '../support/fixtures.js';

describe('elf: map definitions of every fixture (no privileges)', () => {
  for (const [file, expected] of Object.entries(EXPECTED_MAPS)) {
    it(`${file}: ${expected.maps.length} maps of ${expected.defSize} bytes, in offset order`, () => {
      const spec = parseObject(fixtureBytes(file), { file });
      const maps = mapOrder(spec);
      expect(Object.keys(spec.maps)).to.deep.equal(expected.maps.map(([name]) => name));
      const offsets = maps.map((m) => source(m).offset);
      expect(offsets).to.deep.equal(expected.maps.map((_, i) => i * expected.defSize));
      for (const [i, [name, type, key, value, max, flags]] of expected.maps.entries()) {
        const map = maps[i]!;
        expect(map.name).to.equal(name);
        expect(source(map).defSize).to.equal(expected.defSize);
        // value_size of map-in-map stays as written (0) in the spec; the loader passes 4
        const specValue = type === 12 || type === 13 ? 0 : value;
        expect([map.type, map.keySize, map.valueSize, map.maxEntries, map.flags]).to.deep.equal(
          [type, key, specValue, max, flags],
        );
      }
      expect(spec.license).to.equal('GPL');
    });
  }

  it('map_def28: inner_map_idx becomes the template\'s name; numa_node is kept only with BPF_F_NUMA_NODE', () => {
    const spec28 = parseObject(fixtureBytes('map_def28_kern.o'));
    const maps = mapOrder(spec28);
    expect(maps[1]!.innerMap).to.equal(maps[0]!.name);
    expect(maps[2]!.innerMap).to.equal(maps[3]!.name);
    expect(source(maps[2]!).raw.innerMapIdx).to.equal(3);
    // numa_hash sets BPF_F_NUMA_NODE: its node (0) is kept
    expect([maps[4]!.flags, maps[4]!.numaNode]).to.deep.equal([4, 0]);
    expect(maps[3]!.numaNode).to.equal(undefined);
    const spec16 = parseObject(fixtureBytes('map_def16_kern.o'));
    for (const map of Object.values(spec16.maps)) {
      expect([map.flags, map.innerMap, map.numaNode, map.pinning]).to.deep.equal([0, undefined, undefined, 'none']);
    }
  });

  it('static maps are data symbols (the STT_SECTION symbol is not counted as a map)', () => {
    const spec = parseObject(fixtureBytes('static_maps_kern.o'));
    expect(mapOrder(spec).map((m) => [m.name, source(m).static])).to.deep.equal([
      ['first', true],
      ['second', true],
    ]);
  });

  it('refuses a def whose bytes past the known 28 are not zero, naming the map and the byte', () => {
    expect(() => parseObject(fixtureBytes('invalid_nonzero_tail_kern.o'), { file: 'invalid_nonzero_tail_kern.o' }))
      .to.throw(ElfError)
      .with.property('message')
      .that.matches(/invalid_nonzero_tail_kern\.o: sec 'maps': map 'tail_set': definition is 32 bytes and byte 28/);
  });

  it('an object without a maps section has no maps', () => {
    const spec = parseObject(fixtureBytes('no_maps_kern.o'));
    expect(spec.maps).to.deep.equal({});
  });

  it('a 36-byte definition with struct bpf_elf_map fields set is refused without the tc convention, naming --convention tc', () => {
    expect(() => parseObject(fixtureBytes('tc_maps_kern.o'), { file: 'tc_maps_kern.o' }))
      .to.throw(ElfError)
      .with.property('message')
      .that.matches(/tc_maps_kern\.o: sec 'maps': map 'tc_global_counts': definition is 36 bytes with fields set .* load it with the tc convention \(--convention tc/);
  });

  it('a spec is plain data: a copy is deep-equal, shares nothing, and the spec holds no view of the file', () => {
    const bytes = fixtureBytes('xdp_blacklist_kern.o');
    const spec = parseObject(bytes);
    const copy = structuredClone(spec);
    expect(copy).to.deep.equal(spec);
    for (const program of Object.values(spec.programs)) expect(program.insns.buffer).to.not.equal(bytes.buffer);
    expect(JSON.stringify(parseObject(bytes))).to.equal(JSON.stringify(spec));
  });
});

function source(map: MapSpec): Extract<MapSpec['source'], { kind: 'maps' }> {
  if (map.source.kind !== 'maps') throw new Error(`map '${map.name}' is not from the maps section`);
  return map.source;
}
