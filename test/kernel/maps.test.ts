import { expect } from 'chai';
import { isBpfLoadError, loadBpfFile, LoadError, type BpfObject } from '../../loader/index.js';
import { BPF_MAP_TYPE, mapCreate, mapGetInfo } from '../../syscall/index.js';
import { EXPECTED_MAPS } from '../support/expectedMaps.js';
import { fixturePath } from '../support/fixtures.js';
import { fdinfo, processFdCount, requireKernel } from '../support/kernel.js';

describe('kernel: loadBpfFile creates every map as the object defines it', function () {
  before(function () {
    requireKernel(this);
  });

  for (const [file, expected] of Object.entries(EXPECTED_MAPS)) {
    it(`${file}: map_fd[] in offset order, the kernel agrees on every field`, async () => {
      const object = await loadBpfFile(fixturePath(file));
      try {
        expect(object.map_fd).to.have.length(expected.maps.length);
        expect(new Set(object.map_fd).size).to.equal(expected.maps.length);
        for (const [i, [name, type, key, value, max, flags]] of expected.maps.entries()) {
          const fd = object.map_fd[i]!;
          expect(object.maps[i]!.fd).to.equal(fd);
          expect(object.maps[i]!.name).to.equal(name);
          const info = mapGetInfo(fd);
          expect(
            { type: info.type, key: info.key_size, value: info.value_size, max: info.max_entries, flags: info.map_flags, name: info.name },
            `map #${i} ${name}`,
          ).to.deep.equal({ type, key, value, max, flags, name: name.slice(0, 15) });
          // a second, independent reading of the same kernel object
          const proc = fdinfo(fd);
          expect(Number(proc['map_type'])).to.equal(type);
          expect(Number(proc['max_entries'])).to.equal(max);
        }
      } finally {
        object.close();
      }
    });
  }

  it('map-in-map: an outer map whose template comes later in the section still gets it', async () => {
    const object = await loadBpfFile(fixturePath('map_def28_kern.o'));
    try {
      // creation order differs from map_fd[] order: the template (#3) was created before #2
      expect(object.maps[3]!.id).to.be.lessThan(object.maps[2]!.id);
      expect(object.maps[0]!.id).to.be.lessThan(object.maps[1]!.id);
    } finally {
      object.close();
    }
  });

  it('a -g object (.BTF, .BTF.ext, DWARF, their .rel.* sections, an unreferenced .rodata.str1.1) loads whole', async () => {
    const object = await loadBpfFile(fixturePath('debuginfo_g_kern.o'));
    try {
      expect(object.map_fd).to.have.length(2);
      expect(object.prog_fd).to.have.length(1);
      expect(object.programs[0]!.id).to.be.greaterThan(0);
    } finally {
      object.close();
    }
  });

  it('close() closes every fd the load opened, and is idempotent', async () => {
    const before = processFdCount();
    const object: BpfObject = await loadBpfFile(fixturePath('many_maps_kern.o'));
    expect(processFdCount()).to.equal(before + 70 + 1); // 70 maps and its one program
    object.close();
    object.close();
    expect(processFdCount()).to.equal(before);
    // the numbers may be reused by the next open: the arrays no longer lend them
    expect(new Set(object.map_fd)).to.deep.equal(new Set([-1]));
    expect(object.prog_fd.every((fd) => fd === -1)).to.equal(true);
  });

  it('map(name) / program(name) for a name the object lacks: a LoadError listing what it has', async () => {
    const object = await loadBpfFile(fixturePath('map_def16_kern.o'));
    try {
      expect(() => object.map('nope'))
        .to.throw(LoadError)
        .with.property('message', `${fixturePath('map_def16_kern.o')}: no map named 'nope' (maps: counters, flows, per_cpu_stats)`);
      expect(() => object.program('nope')).to.throw(LoadError, /no program named 'nope' \(programs: count_protocols\)/);
      expect(object.map('flows').name).to.equal('flows');
    } finally {
      object.close();
    }
  });

  it('a number used after close() is a bpf-load error, not a stale fd', () => {
    const owner = mapCreate({ map_type: BPF_MAP_TYPE.ARRAY, key_size: 4, value_size: 4, max_entries: 1, map_flags: 0 });
    owner.close();
    let error: unknown;
    try {
      void owner.fd;
    } catch (e) {
      error = e;
    }
    expect(isBpfLoadError(error), String(error)).to.equal(true);
    expect(error).to.have.property('code', 'BPF_LOAD_FD_CLOSED');
    expect((error as Error).message).to.equal('bpf-load: file descriptor used after close()');
  });

  it('Symbol.dispose closes the object', async () => {
    const before = processFdCount();
    const object = await loadBpfFile(fixturePath('map_def16_kern.o'));
    object[Symbol.dispose]();
    expect(processFdCount()).to.equal(before);
  });

  it('fixupMap can change a def before creation, like load_bpf_file_fixup_map()', async () => {
    const seen: [string, number][] = [];
    const object = await loadBpfFile(fixturePath('map_def16_kern.o'), {
      fixupMap(map, index) {
        seen.push([map.name, index]);
        if (map.name === 'flows') map.def.max_entries = 77;
      },
    });
    try {
      expect(seen).to.deep.equal([
        ['counters', 0],
        ['flows', 1],
        ['per_cpu_stats', 2],
      ]);
      expect(mapGetInfo(object.map_fd[1]!).max_entries).to.equal(77);
    } finally {
      object.close();
    }
  });

  it('fixupMap can hand in an existing map fd: it is used, not created, and stays the caller’s', async () => {
    const donor = await loadBpfFile(fixturePath('map_def16_kern.o'));
    const donorId = donor.maps[1]!.id;
    const object = await loadBpfFile(fixturePath('map_def16_kern.o'), {
      fixupMap(map) {
        if (map.name === 'flows') map.fd = donor.map_fd[1]!;
      },
    });
    try {
      expect(object.maps[1]!.id).to.equal(donorId);
      expect(object.map_fd[1]).to.not.equal(donor.map_fd[1]);
    } finally {
      object.close();
    }
    // the donor's fd is still open and usable
    expect(mapGetInfo(donor.map_fd[1]!).id).to.equal(donorId);
    donor.close();
  });

  it('a map the kernel refuses closes the maps created before it and names map, def and errno', async () => {
    const before = processFdCount();
    let error: unknown;
    try {
      await loadBpfFile(fixturePath('map_def20_kern.o'), {
        fixupMap(map) {
          if (map.index === 2) map.def.max_entries = 0;
        },
      });
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(LoadError);
    const loadError = error as LoadError;
    expect(loadError.errnoName).to.equal('EINVAL');
    expect(loadError.message).to.match(/map_def20_kern\.o: sec 'maps': map 'lru_percpu' \(#2\): failed to create map/);
    expect(loadError.message).to.match(/max_entries 0/);
    expect(loadError.message).to.match(/BPF_MAP_CREATE: EINVAL \(max_entries is 0\)/);
    expect(processFdCount()).to.equal(before);
  });
});
