import { expect } from 'chai';
import { parseObject, type ObjectSpec } from '../../elf/index.js';
import { SHT_REL } from '../../elf/elfFile.js';
import { fixtureBytes } from '../support/fixtures.js';

const FIXTURE = 'debuginfo_g_kern.o';

describe('elf: a -g object (BTF, DWARF and their relocation sections) parses like any other (no privileges)', () => {
  let spec: ObjectSpec;
  before(() => {
    spec = parseObject(fixtureBytes(FIXTURE), { file: FIXTURE });
  });

  it('the fixture carries what clang -g emits, so the tests below prove something', () => {
    expect(spec.elf.sections.map((s) => s.name)).to.include.members([
      '.BTF', '.BTF.ext', '.rel.BTF', '.rel.BTF.ext', '.debug_info', '.rel.debug_info', '.debug_line', '.rel.debug_line',
      '.llvm_addrsig', '.rodata.str1.1', '.text', '.rel.text',
    ]);
    expect(spec.elf.symbols.some((s) => s.name.startsWith('LBB'))).to.equal(true);
  });

  it('relocations of debug and BTF sections are read but never applied to a program', () => {
    const relocated = [...spec.elf.relocations.values()].map(({ section }) => section.name);
    expect(relocated).to.include.members(['.rel.BTF', '.rel.BTF.ext', '.rel.debug_info', '.rel.debug_frame']);
    expect(spec.elf.sections.filter((s) => s.type === SHT_REL).length).to.equal(relocated.length);

    expect(spec.programs.map((p) => [p.section, p.name])).to.deep.equal([['socket1', 'count_bytes']]);
    const program = spec.programs[0]!;
    expect(program.relocations.map((r) => [r.kind, r.sourceSection, r.symbol])).to.deep.equal([
      ['map', 'socket1', 'proto_bytes'],
      ['call', 'socket1', '.text+0'],
      // the static map's LD_IMM64 sits in the .text function the program calls
      ['map', '.text', 'maps+28'],
      ['map', '.text', 'maps+28'],
    ]);
    expect(spec.warnings).to.deep.equal([]);
  });

  it('the maps are the two definitions, the static one included', () => {
    expect(spec.maps.map((m) => [m.name, m.offset, m.defSize, m.isStatic])).to.deep.equal([
      ['proto_bytes', 0, 28, false],
      ['seen_lengths', 28, 28, true],
    ]);
  });
});
