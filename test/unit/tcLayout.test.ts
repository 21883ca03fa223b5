import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElfError, parseObject, type MapSpec, type ObjectSpec } from '../../loader/index.js';
import { explainMissingTemplate, resolveTcReferences } from '../../elf/tcConvention.js';
import { mapOrder, programOrder } from '../../elf/index.js';
import { mapMismatches } from '../../loader/maps/compatibility.js';
import { readPinningDatabase, tcPinPath } from '../../loader/pinning/tcLayout.js';
import { fixtureBytes } from '../support/fixtures.js';

function tcSpec(): ObjectSpec {
  return parseObject(fixtureBytes('tc_maps_kern.o'), { file: 'tc_maps_kern.o', convention: 'tc' });
}

function mapNamed(spec: ObjectSpec, name: string): MapSpec {
  const map = spec.maps[name];
  if (!map) throw new Error(`no map ${name}`);
  return map;
}

function tcOf(map: MapSpec): { id: number; pinning: number; innerId: number; innerIdx: number } {
  if (map.source.kind !== 'maps' || !map.source.raw.tc) throw new Error(`map ${map.name} has no tc fields`);
  return map.source.raw.tc;
}

/** The references tc's ids make, resolved again after an edit of the raw fields. */
function reresolve(spec: ObjectSpec): void {
  for (const map of Object.values(spec.maps)) {
    delete map.innerMap;
    delete map.contents;
  }
  resolveTcReferences(mapOrder(spec), programOrder(spec));
}

describe('tc convention: struct bpf_elf_map and iproute2 rules (no kernel)', function () {
  it('decodes id, pinning, inner_id and inner_idx of every map', () => {
    const spec = tcSpec();
    const fields = Object.fromEntries(mapOrder(spec).map((m) => {
      const tc = tcOf(m);
      return [m.name, [m.source.kind === 'maps' && m.source.defSize, tc.id, tc.pinning, tc.innerId, tc.innerIdx, m.pinning]];
    }));
    expect(fields).to.deep.equal({
      tc_global_counts: [36, 0, 2, 0, 0, 'global'],
      tc_object_flows: [36, 0, 1, 0, 0, 'object'],
      tc_private: [36, 0, 0, 0, 0, 'none'],
      tc_inner: [36, 42, 0, 0, 3, 'none'],
      tc_outer: [36, 0, 2, 42, 0, 'global'],
    });
    expect(mapNamed(spec, 'tc_object_flows')).to.include({ type: 1, keySize: 4, valueSize: 8, maxEntries: 64, flags: 1 });
  });

  it('refuses static map symbols, which tc does not count', () => {
    expect(() => parseObject(fixtureBytes('static_maps_kern.o'), { file: 'static_maps_kern.o', convention: 'tc' }))
      .to.throw(ElfError, /map 'first': map is static: tc \(iproute2\) takes only global map symbols/);
  });

  it('the template of an outer map is the map whose id is its inner_id, named at parse', () => {
    const spec = tcSpec();
    expect(mapNamed(spec, 'tc_outer').innerMap).to.equal('tc_inner');
    const explain = () => {
      reresolve(spec);
      expect(mapNamed(spec, 'tc_outer').innerMap).to.equal(undefined);
      return explainMissingTemplate(mapOrder(spec), mapNamed(spec, 'tc_outer'))!.message;
    };
    tcOf(mapNamed(spec, 'tc_outer')).innerId = 0;
    expect(explain()).to.match(/needs inner_id/);
    tcOf(mapNamed(spec, 'tc_outer')).innerId = 99;
    expect(explain()).to.match(/no map has id 99/);
    tcOf(mapNamed(spec, 'tc_outer')).innerId = 42;
    tcOf(mapNamed(spec, 'tc_private')).id = 42;
    expect(explain()).to.match(/'tc_private' and 'tc_inner' all have id 42/);
  });

  it('a map with an id, no inner_id and an inner_idx becomes contents of every outer map naming that id', () => {
    const spec = tcSpec();
    expect(mapNamed(spec, 'tc_outer').contents).to.deep.equal([{ slot: 3, map: 'tc_inner' }]);
    tcOf(mapNamed(spec, 'tc_inner')).innerIdx = 0xffffffff;
    reresolve(spec);
    expect(mapNamed(spec, 'tc_outer').contents).to.equal(undefined);
  });

  it('pin paths: globals, the object directory, custom ids from bpf_pinning, none', () => {
    const spec = tcSpec();
    const directory = mkdtempSync(join(tmpdir(), 'bpf-load-pinning-db-'));
    try {
      const database = join(directory, 'bpf_pinning');
      writeFileSync(database, '#\n# subpath mappings\n#\n3\ttracing\n4 foo/bar\n#5 tc/cls1\n2 reserved\n');
      const custom = readPinningDatabase([join(directory, 'missing'), database]);
      expect([...custom]).to.deep.equal([[3, 'tracing'], [4, 'foo/bar']]);
      const path = (name: string) => tcPinPath('/mnt/bpf', mapNamed(spec, name), () => 'HASH', () => custom);
      expect(path('tc_global_counts')).to.equal('/mnt/bpf/tc/globals/tc_global_counts');
      expect(path('tc_object_flows')).to.equal('/mnt/bpf/tc/HASH/tc_object_flows');
      expect(path('tc_private')).to.equal(undefined);
      mapNamed(spec, 'tc_private').pinning = { custom: 4 };
      expect(path('tc_private')).to.equal('/mnt/bpf/foo/bar/tc_private');
      mapNamed(spec, 'tc_private').pinning = { custom: 5 };
      expect(path('tc_private'), 'an id the database does not know is not pinned, as in tc').to.equal(undefined);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('a definition compared with a pinned map names both sides of every difference', () => {
    const spec = tcSpec();
    const pinned = { type: 2, id: 1, key_size: 4, value_size: 4, max_entries: 8, map_flags: 1, name: 'x', ifindex: 0 };
    expect(mapMismatches(mapNamed(spec, 'tc_global_counts'), pinned, 'pinned at /p')).to.deep.equal([
      'value_size 8 (object) != 4 (pinned at /p)',
      'max_entries 4 (object) != 8 (pinned at /p)',
      'map_flags 0x0 (object) != 0x1 (pinned at /p)',
    ]);
    // an outer map's value is a map fd: 4 bytes whatever the definition says
    const outer = { ...mapNamed(spec, 'tc_outer'), valueSize: 0 };
    expect(mapMismatches(outer, { ...pinned, type: 12, max_entries: 4, map_flags: 0 }, 'pinned at /p')).to.deep.equal([]);
  });
});
