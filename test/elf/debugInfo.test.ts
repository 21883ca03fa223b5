import { expect } from 'chai';
import { mapOrder, parseObject, programOrder, type ObjectSpec } from '../../elf/index.js';
import { SHT_REL, readElf, type ElfFile } from '../../elf/elfFile.js';
import { fixtureBytes } from '../support/fixtures.js';

const FIXTURE = 'debuginfo_g_kern.o';

describe('elf: a -g object (BTF, DWARF and their relocation sections) parses like any other (no privileges)', () => {
  let spec: ObjectSpec;
  let elf: ElfFile;
  before(() => {
    spec = parseObject(fixtureBytes(FIXTURE), { file: FIXTURE });
    elf = readElf(fixtureBytes(FIXTURE), FIXTURE);
  });

  it('the fixture carries what clang -g emits, so the tests below prove something', () => {
    expect(elf.sections.map((s) => s.name)).to.include.members([
      '.BTF', '.BTF.ext', '.rel.BTF', '.rel.BTF.ext', '.debug_info', '.rel.debug_info', '.debug_line', '.rel.debug_line',
      '.llvm_addrsig', '.rodata.str1.1', '.text', '.rel.text',
    ]);
    expect(elf.symbols.some((s) => s.name.startsWith('LBB'))).to.equal(true);
  });

  it('relocations of debug and BTF sections are left unread (as libbpf leaves them): only programs\' are decoded', () => {
    const relocated = [...elf.relocations.values()].map(({ section }) => section.name);
    expect(relocated.sort()).to.deep.equal(['.rel.text', '.relsocket1']);
    expect(elf.sections.filter((s) => s.type === SHT_REL).map((s) => s.name)).to.include.members(['.rel.BTF', '.rel.BTF.ext', '.rel.debug_info', '.rel.debug_frame']);

    expect(programOrder(spec).map((p) => [p.section, p.name])).to.deep.equal([['socket1', 'count_bytes']]);
    const program = spec.programs['count_bytes']!;
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
    expect(mapOrder(spec).map((m) => m.source.kind === 'maps' && [m.name, m.source.offset, m.source.defSize, m.source.static])).to.deep.equal([
      ['proto_bytes', 0, 28, false],
      ['seen_lengths', 28, 28, true],
    ]);
  });
});
