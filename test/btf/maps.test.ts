import { expect } from 'chai';
import { existsSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { readElf } from '../../elf/elfFile.js';
import {
  BtfError, btfMapDefinitions, mapsRelocations, objectBtf, objectBtfMaps, objectDataSections, parseBtf,
  type BtfMapDefinition,
} from '../../elf/btf/index.js';
import type { InnerMapTemplate, MapSpec } from '../../elf/types.js';
import { fixtureBytes, fixturePath } from '../support/fixtures.js';
import { requireKernel, requireTool } from '../support/kernel.js';
import { KIND, StringTable, btfBytes, info } from './builder.js';

const FIXTURE = 'modern/btf_maps.bpf.o';
const PINNED_BY_NAME = '/sys/fs/bpf/btf_maps_pinned';

function fixture(): { maps: BtfMapDefinition[]; elf: ReturnType<typeof readElf> } {
  const elf = readElf(fixtureBytes(FIXTURE), FIXTURE);
  return { elf, maps: objectBtfMaps(elf, objectBtf(elf, FIXTURE)!, FIXTURE) };
}

/** What a definition gives libbpf's debug log: the outer map's spec, or an inner one's template with its BTF types. */
type LoggedDefinition = InnerMapTemplate & Pick<MapSpec, 'btf'>;

/** What libbpf's debug log says of a map definition, as a sorted list of facts. */
function factsOf(map: LoggedDefinition, where: { offset?: number; valueIsFd?: boolean; pinning?: string; innerMap?: boolean }): string[] {
  const facts = [`type = ${map.type}`, `max_entries = ${map.maxEntries}`];
  if (where.offset !== undefined) facts.push(`at offset ${where.offset}`);
  const btf = map.btf ?? { keyTypeId: 0, valueTypeId: 0 };
  if (btf.keyTypeId) facts.push(`key [${btf.keyTypeId}], sz = ${map.keySize}`);
  else if (map.keySize) facts.push(`key_size = ${map.keySize}`);
  // libbpf logs no value for `values` (it makes the value an fd without saying so)
  if (btf.valueTypeId) facts.push(`value [${btf.valueTypeId}], sz = ${map.valueSize}`);
  else if (map.valueSize && !where.valueIsFd) facts.push(`value_size = ${map.valueSize}`);
  if (map.flags) facts.push(`map_flags = 0x${map.flags.toString(16)}`);
  if (where.pinning === 'byName') facts.push('pinning = 1');
  if (map.numaNode !== undefined) facts.push(`numa_node = ${map.numaNode}`);
  if (map.mapExtra !== undefined) facts.push(`map_extra = 0x${map.mapExtra.toString(16)}`);
  if (where.innerMap) facts.push('found inner map definition');
  return facts.sort();
}

describe('btf: BTF-defined maps (.maps) and global data sections (pure)', () => {
  it('every map of the fixture, as the MapSpec the object model takes', () => {
    const maps = fixture().maps.map((m) => m.spec);
    expect(maps.map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.flags, m.pinning])).to.deep.equal([
      ['inner_a', 2, 4, 4, 1, 0, 'none'],
      ['inner_b', 2, 4, 4, 1, 0, 'none'],
      ['outer', 12, 4, 4, 4, 0, 'none'],
      ['jumps', 3, 4, 4, 2, 0, 'none'],
      ['flows', 1, 16, 80, 1024, 1, 'none'],
      ['counters', 6, 4, 8, 4, 0, 'none'],
      ['events', 27, 0, 0, 262144, 0, 'none'],
      ['btf_maps_pinned', 9, 4, 8, 64, 4, 'byName'],
      ['seen', 30, 0, 4, 128, 0, 'none'],
      ['outer_hash', 13, 4, 4, 8, 0, 'none'],
    ]);
    const byName = new Map(maps.map((m) => [m.name, m]));
    expect(byName.get('btf_maps_pinned')).to.deep.include({ numaNode: 0 });
    expect(byName.get('seen')).to.deep.include({ mapExtra: 3n });
    expect(byName.get('flows')!.btf!.keyTypeId).to.be.greaterThan(0);
    expect(byName.get('counters')!.btf).to.deep.equal({ keyTypeId: 0, valueTypeId: 0 });
    expect(byName.get('outer')!.contents).to.deep.equal([{ slot: 0, map: 'inner_a' }, { slot: 2, map: 'inner_b' }]);
    expect(byName.get('outer')!.innerTemplate).to.deep.equal({ type: 2, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0 });
    expect(byName.get('outer_hash')!.innerTemplate).to.deep.equal({ type: 1, keySize: 4, valueSize: 8, maxEntries: 16, flags: 0 });
    expect(byName.get('outer_hash')!.contents).to.equal(undefined);
    expect(byName.get('jumps')!.programContents).to.deep.equal([{ slot: 1, program: 'tail_target' }]);
    expect(byName.get('jumps')!.contents).to.equal(undefined);
    expect(byName.get('flows')!.source).to.deep.equal({ kind: 'btf', offset: fixture().maps.find((m) => m.spec.name === 'flows')!.offset });
    const definitions = new Map(fixture().maps.map((m) => [m.spec.name, m]));
    expect(definitions.get('outer')!.inner!.defTypeId).to.be.greaterThan(0);
    expect(definitions.get('jumps')!.valuesProtoId).to.be.a('number');
  });

  describe("as libbpf reads them (bpftool -d prog loadall's log of each definition)", () => {
    let log = '';
    before(function () {
      requireKernel(this);
      requireTool(this, 'bpftool');
      const pinnedBefore = existsSync(PINNED_BY_NAME);
      const pins = `/sys/fs/bpf/bpf_load_btf_maps_${process.pid}_${Date.now()}`;
      const run = spawnSync('bpftool', ['-d', 'prog', 'loadall', fixturePath(FIXTURE), pins], { encoding: 'utf8' });
      rmSync(pins, { recursive: true, force: true });
      if (!pinnedBefore) rmSync(PINNED_BY_NAME, { force: true });
      log = run.stderr;
      expect(run.status, log.slice(-2000)).to.equal(0);
    });

    function libbpfFacts(name: string): string[] {
      const facts: string[] = [];
      for (const line of log.split('\n')) {
        const match = /^libbpf: map '([^']+)': (.*)$/.exec(line);
        if (!match || match[1] !== name) continue;
        const fact = match[2]!.replace(/^found /, '').replace(/\.$/, '').replace(/^at sec_idx \d+, offset/, 'at offset');
        if (fact.startsWith('at offset') || /^(type|key|value|key_size|value_size|max_entries|map_flags|pinning|numa_node|map_extra|inner map definition)\b/.test(fact)) {
          facts.push(fact === 'inner map definition' ? 'found inner map definition' : fact);
        }
      }
      return facts.sort();
    }

    it('every map: offset, type, key and value (type ids and sizes), max_entries, flags, pinning, numa_node, map_extra', () => {
      for (const map of fixture().maps) {
        const { spec } = map;
        const valueIsFd = spec.innerTemplate !== undefined || map.valuesProtoId !== undefined;
        expect(factsOf(spec, { offset: map.offset, valueIsFd, pinning: spec.pinning as string, innerMap: spec.innerTemplate !== undefined }), spec.name)
          .to.deep.equal(libbpfFacts(spec.name));
        if (spec.innerTemplate) {
          const inner = `${spec.name}.inner`;
          expect(factsOf({ ...spec.innerTemplate, btf: map.inner!.btf }, {}), inner).to.deep.equal(libbpfFacts(inner));
        }
      }
    });

    it('the .values slots libbpf fills are the contents', () => {
      const slots = [...log.matchAll(/^libbpf: map '([^']+)': slot \[(\d+)\] set to map '([^']+)'/gm)].map((m) => [m[1], Number(m[2]), m[3]]);
      const ours = fixture().maps.flatMap(({ spec }) => (spec.contents ?? []).map((c) => [spec.name, c.slot, c.map]));
      expect(ours).to.deep.equal(slots);
      expect(slots).to.have.length(2);
    });
  });

  it('global data sections: the variables of each, offsets from the symbol table, as libbpf lays them out', () => {
    const elf = readElf(fixtureBytes(FIXTURE), FIXTURE);
    const sections = objectDataSections(elf, objectBtf(elf, FIXTURE)!);
    const summary = Object.fromEntries(sections.map((s) => [s.name, s.variables.map((v) => [v.name, v.offset, v.size, v.linkage])]));
    expect(summary).to.deep.equal({
      '.bss': [['dropped', 0, 8, 1], ['scratch', 8, 64, 1]],
      '.data': [['hits', 0, 4, 1], ['hidden_hits', 4, 4, 1]],
      '.data.tunables': [['tunables', 0, 16, 1]],
      '.rodata': [['target_port', 0, 4, 1], ['label', 4, 8, 1], ['verbose', 12, 1, 1], ['count_flows.____fmt', 13, 10, 0]],
      '.rodata.banner': [['banner', 0, 9, 1]],
    });
    expect(sections.map((s) => s.kind)).to.deep.equal(['bss', 'data', 'data', 'rodata', 'rodata']);
    // each variable's offset is its symbol's: libbpf's map value offsets ('verbose' at 12 as the program reads it: map[..][0]+12)
    const btf = objectBtf(elf, FIXTURE)!;
    const verbose = sections.find((s) => s.name === '.rodata')!.variables.find((v) => v.name === 'verbose')!;
    expect(btf.type(verbose.typeId).kind).to.equal('CONST');
  });

  it('the symbols clang leaves out of .maps are where the relocations point', () => {
    const { elf } = fixture();
    expect(mapsRelocations(elf)).to.deep.equal([
      { offset: 64 + 24, symbol: 'inner_a', target: 'map' },
      { offset: 64 + 24 + 16, symbol: 'inner_b', target: 'map' },
      { offset: 112 + 24 + 8, symbol: 'tail_target', target: 'program' },
    ]);
  });

  describe('definitions libbpf refuses are BtfErrors naming the map and what is wrong', () => {
    /** one map 'm' in .maps whose struct has these members: [name, type id]; types 1..4 are set up below */
    function mapsWith(members: [string, number][]): ReturnType<typeof parseBtf> {
      const s = new StringTable();
      // [1] INT; [2] ARRAY of 1 x 7 (7 = __uint(…, 7)); [3] PTR -> 2; [4] PTR -> 1 (__type(…, int)); [5] ARRAY int[3]; [6] PTR -> 5
      const types = [
        s.add('int'), info(KIND.INT), 4, 0x01000020,
        0, info(KIND.ARRAY), 0, 1, 1, 7,
        0, info(KIND.PTR), 2,
        0, info(KIND.PTR), 1,
        0, info(KIND.ARRAY), 0, 1, 1, 3,
        0, info(KIND.PTR), 5,
      ];
      const structId = 7;
      types.push(0, info(KIND.STRUCT, members.length), members.length * 8, ...members.flatMap(([name, type], i) => [s.add(name), type, i * 64]));
      types.push(s.add('m'), info(KIND.VAR), structId, 1);
      types.push(s.add('.maps'), info(KIND.DATASEC, 1), 0, structId + 1, 0, members.length * 8);
      return parseBtf(btfBytes(types, s.bytes()), { file: 'x.o', section: '.BTF' });
    }

    it('a valid one parses (the builder is right)', () => {
      expect(btfMapDefinitions(mapsWith([['type', 3], ['key', 4], ['max_entries', 3]]))).to.deep.equal([{
        spec: {
          name: 'm', type: 7, keySize: 4, valueSize: 0, maxEntries: 7, flags: 0, pinning: 'none', btf: { keyTypeId: 1, valueTypeId: 0 },
          source: { kind: 'btf', offset: 0 },
        },
        defTypeId: 7, varId: 8, offset: 0, size: 24,
      }]);
    });

    const cases: [string, [string, number][], RegExp][] = [
      ['no type', [['max_entries', 3]], /^x.o: sec '.BTF': map 'm': BTF type \[7\]: has no map type/],
      ['an unknown attribute', [['type', 3], ['colour', 3]], /member 'colour' is not a map attribute libbpf knows/],
      ['__uint that is not a pointer', [['type', 1]], /member 'type' is INT 'int', not __uint's pointer to an array/],
      ['__type that is not a pointer', [['type', 3], ['key', 1]], /member 'key' is INT 'int', not __type's pointer/],
      ['key and key_size that disagree', [['type', 3], ['key', 4], ['key_size', 6]], /member 'key_size' says 3 bytes, but the key was given as 4/],
      ['a pinning libbpf does not know', [['type', 3], ['pinning', 3]], /member 'pinning' is 7: only LIBBPF_PIN_NONE/],
      ['values on a stack trace map', [['type', 3], ['values', 5]], /member 'values' is for map-in-map and program arrays, not map type 7/],
    ];
    for (const [what, members, message] of cases) {
      it(what, () => expect(() => btfMapDefinitions(mapsWith(members))).to.throw(BtfError, message));
    }
  });
});
