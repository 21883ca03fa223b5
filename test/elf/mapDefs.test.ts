import { expect } from 'chai';
import { parseObject, ElfError } from '../../elf/index.js';
import { EXPECTED_MAPS } from '../support/expectedMaps.js';
import { fixtureBytes } from '../support/fixtures.js';

describe('elf: map definitions of every fixture (no privileges)', () => {
  for (const [file, expected] of Object.entries(EXPECTED_MAPS)) {
    it(`${file}: ${expected.maps.length} maps of ${expected.defSize} bytes, in offset order`, () => {
      const spec = parseObject(fixtureBytes(file), { file });
      expect(spec.maps.map((m) => m.index)).to.deep.equal(expected.maps.map((_, i) => i));
      const offsets = spec.maps.map((m) => m.offset);
      expect(offsets).to.deep.equal(expected.maps.map((_, i) => i * expected.defSize));
      for (const [i, [name, type, key, value, max, flags]] of expected.maps.entries()) {
        const map = spec.maps[i]!;
        expect(map.name).to.equal(name);
        expect(map.defSize).to.equal(expected.defSize);
        // value_size of map-in-map stays as written (0) in the spec; the loader passes 4
        const specValue = type === 12 || type === 13 ? 0 : value;
        expect([map.def.type, map.def.key_size, map.def.value_size, map.def.max_entries, map.def.map_flags]).to.deep.equal(
          [type, key, specValue, max, flags],
        );
      }
      expect(spec.license).to.equal('GPL');
    });
  }

  it('map_def28: keeps inner_map_idx and numa_node; zero-fills them for shorter defs', () => {
    const spec28 = parseObject(fixtureBytes('map_def28_kern.o'));
    expect(spec28.maps[1]!.def.inner_map_idx).to.equal(0);
    expect(spec28.maps[2]!.def.inner_map_idx).to.equal(3);
    expect(spec28.maps[4]!.def.numa_node).to.equal(0);
    const spec16 = parseObject(fixtureBytes('map_def16_kern.o'));
    for (const map of spec16.maps) {
      expect([map.def.map_flags, map.def.inner_map_idx, map.def.numa_node]).to.deep.equal([0, 0, 0]);
    }
  });

  it('static maps are data symbols (the STT_SECTION symbol is not counted as a map)', () => {
    const spec = parseObject(fixtureBytes('static_maps_kern.o'));
    expect(spec.maps.map((m) => [m.name, m.isStatic])).to.deep.equal([
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
    expect(spec.maps).to.deep.equal([]);
    expect(spec.mapsSection).to.equal(undefined);
  });
});
