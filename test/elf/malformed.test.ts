import { expect } from 'chai';
import { ElfError, mapOrder, parseObject } from '../../elf/index.js';
import { ByteReader, NUL_TABLE_MAX_BYTES } from '../../elf/byteReader.js';
import { parseWithElfy, readElf, SHT_PROGBITS, SHT_REL, SHT_STRTAB, SHT_SYMTAB } from '../../elf/elfFile.js';
import { LoadError, isBpfLoadError } from '../../loader/errors.js';
import { loadBpfFile, loadBpfObject } from '../../loader/load/loadBpfFile.js';
import { openBpfFdCount } from '../../syscall/index.js';
import { patch } from '../support/elfPatch.js';
import { fixtureBytes, fixturePath } from '../support/fixtures.js';

const SHT_NOBITS = 8;
const FILE = 'bad_kern.o';

/**
 * parseObject must refuse `bytes` with an ElfError that names the file and
 * matches `what`; anything else (TypeError, RangeError, AssertionError, a
 * silent success) fails with the offending error attached.
 */
function expectRefused(bytes: Uint8Array, what: RegExp, file = FILE): ElfError {
  let thrown: unknown;
  try {
    parseObject(bytes, { file });
  } catch (error) {
    thrown = error;
  }
  if (thrown === undefined) expect.fail(`parseObject accepted the malformed object (expected ${what})`);
  if (!(thrown instanceof ElfError)) {
    expect.fail(`expected an ElfError matching ${what}, got ${(thrown as Error)?.stack ?? String(thrown)}`);
  }
  expect(isBpfLoadError(thrown)).to.equal(true);
  expect(thrown.message.startsWith(`${file}: `), `names the file: ${thrown.message}`).to.equal(true);
  expect(thrown.message).to.match(what);
  return thrown;
}

describe('elf: malformed objects are refused with an ElfError naming the file and the fault', () => {
  describe('not an ELF object at all', () => {
    it('an empty file', () => {
      expectRefused(new Uint8Array(0), /not an ELF file \(no \\x7fELF magic\)/);
    });

    it('a text file', () => {
      expectRefused(new TextEncoder().encode('int main(void) { return 0; }\n'), /not an ELF file/);
    });

    it('bad magic in each of the four magic bytes', () => {
      for (const at of [0, 1, 2, 3]) {
        const bytes = patch(fixtureBytes('map_def16_kern.o')).write(at, 1, 0x00).bytes;
        expectRefused(bytes, /not an ELF file/);
      }
    });

    it('the magic alone, and a header cut short', () => {
      expectRefused(Uint8Array.of(0x7f, 0x45, 0x4c, 0x46), /truncated ELF header: 4 bytes, need 64/);
      expectRefused(fixtureBytes('map_def16_kern.o').slice(0, 63), /truncated ELF header: 63 bytes/);
    });
  });

  describe('truncated files', () => {
    it('map_def16_kern.o cut at every length is refused, never misread', () => {
      const whole = fixtureBytes('map_def16_kern.o');
      for (let length = 0; length < whole.length; length++) {
        expectRefused(whole.slice(0, length), /not an ELF file|truncated|past the end|malformed/);
      }
    });

    it('every fixture cut at a sample of lengths is refused', () => {
      for (const name of ['map_def28_kern.o', 'many_maps_kern.o', 'no_maps_kern.o', 'static_maps_kern.o']) {
        const whole = fixtureBytes(name);
        for (let length = 0; length < whole.length; length += 13) expectRefused(whole.slice(0, length), /./, name);
        expectRefused(whole.slice(0, whole.length - 1), /section header table .* past the end/, name);
      }
    });
  });

  describe('wrong machine, class, endianness or type', () => {
    it('an x86-64 object built without -target bpf names the machine', () => {
      expectRefused(
        fixtureBytes('x86_64_object.o'),
        /ELF machine is x86-64 \(e_machine 62\), not BPF \(247\): build the object with clang -target bpf/,
        'x86_64_object.o',
      );
    });

    it('a BPF object with e_machine patched to AArch64 or an unknown machine', () => {
      expectRefused(patch(fixtureBytes('map_def16_kern.o')).write(18, 2, 183).bytes, /AArch64 \(e_machine 183\), not BPF/);
      expectRefused(patch(fixtureBytes('map_def16_kern.o')).write(18, 2, 4242).bytes, /e_machine 4242, not BPF/);
    });

    it('a 32-bit class or an unknown class', () => {
      expectRefused(patch(fixtureBytes('map_def16_kern.o')).write(4, 1, 1).bytes, /ELF class is 32-bit; BPF objects are 64-bit/);
      expectRefused(patch(fixtureBytes('map_def16_kern.o')).write(4, 1, 7).bytes, /ELF class is unknown \(7\)/);
    });

    it('an unknown data encoding', () => {
      expectRefused(patch(fixtureBytes('map_def16_kern.o')).write(5, 1, 0).bytes, /data encoding 0 is neither little- nor big-endian/);
    });

    it('a little-endian object whose header claims big-endian is refused, not misread', () => {
      // every multi-byte field now reads byte-swapped: e_machine 247 becomes 0xf700
      expectRefused(patch(fixtureBytes('map_def16_kern.o')).write(5, 1, 2).bytes, /e_machine 63232, not BPF/);
    });

    it('an executable instead of a relocatable object', () => {
      expectRefused(patch(fixtureBytes('map_def16_kern.o')).write(16, 2, 2).bytes, /ELF type is 2, not a relocatable object/);
    });

    it('a real big-endian (bpfeb) object parses for a dry run, and loading it is refused before any syscall', () => {
      const spec = parseObject(fixtureBytes('bigendian_bpfeb.o'), { file: 'bigendian_bpfeb.o' });
      expect(spec.byteOrder).to.equal('big');
      expect(mapOrder(spec).map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.flags]))
        .to.deep.equal([
          ['be_counters', 2, 4, 8, 256, 0],
          ['be_flows', 1, 8, 16, 1024, 1],
        ]);
      expect(spec.license).to.equal('GPL');
      const before = openBpfFdCount();
      expect(() => loadBpfObject(spec))
        .to.throw(LoadError)
        .with.property('message')
        .that.matches(/^bigendian_bpfeb\.o: object is big-endian but this machine is little-endian: rebuild with clang -target bpf/);
      expect(openBpfFdCount()).to.equal(before);
    });
  });

  describe('section header table and section contents', () => {
    it('e_shoff past the end of the file', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      bad.write(40, 8, bad.bytes.length);
      expectRefused(bad.bytes, /section header table at offset \d+ \(576 bytes\) is past the end of 1152 bytes/);
    });

    it('e_shoff beyond 2^53', () => {
      expectRefused(patch(fixtureBytes('map_def16_kern.o')).write(40, 8, 1n << 60n).bytes, /e_shoff is \d+, too large/);
    });

    it('e_shnum larger than the table, zero, and a wrong e_shentsize', () => {
      expectRefused(patch(fixtureBytes('map_def16_kern.o')).write(60, 2, 0xffff).bytes, /section header table .* past the end/);
      expectRefused(patch(fixtureBytes('map_def16_kern.o')).write(60, 2, 0).bytes, /no section header table/);
      expectRefused(patch(fixtureBytes('map_def16_kern.o')).write(58, 2, 40).bytes, /section header size is 40, expected 64/);
    });

    it('e_shstrndx out of range, or naming a section that is not a string table', () => {
      expectRefused(patch(fixtureBytes('map_def16_kern.o')).write(62, 2, 9).bytes, /section name table index 9 is out of range \(9 sections\)/);
      expectRefused(
        patch(fixtureBytes('map_def16_kern.o')).write(62, 2, 5).bytes,
        /section name table \(section 5\) is not a string table \(sh_type 1\)/,
      );
    });

    it('a program header table past the end of the file (relocatables have none, but it must not crash the reader)', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o')).write(32, 8, 1000).write(54, 2, 56).write(56, 2, 3);
      expectRefused(bad.bytes, /program header table at offset 1000 \(168 bytes\) is past the end of 1152 bytes/);
      // inside the file it is ignored
      expect(parseObject(bad.write(32, 8, 64).bytes, { file: FILE }).maps).to.have.keys('counters', 'flows', 'per_cpu_stats');
      // elfy would read 56-byte entries out of 8-byte slices and throw a RangeError
      expectRefused(bad.write(54, 2, 8).bytes, /program header size is 8, expected 56/);
    });

    it('high, reserved sh_flags bits are ignored, not taken for a 64-bit offset', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      const maps = bad.sectionIndex('maps');
      bad.setSectionField(maps, 'flags', 0xffff_0000_0000_0003n);
      expect(Object.keys(parseObject(bad.bytes, { file: FILE }).maps)).to.deep.equal(['counters', 'flows', 'per_cpu_stats']);
    });

    it('a section whose contents start past the end of the file', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      const maps = bad.sectionIndex('maps');
      bad.setSectionField(maps, 'offset', bad.bytes.length + 8);
      expectRefused(bad.bytes, new RegExp(`section ${maps} contents at offset 1160 \\(48 bytes\\) is past the end`));
    });

    it('a section whose size runs past the end of the file, or past 2^53', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      const maps = bad.sectionIndex('maps');
      expectRefused(bad.setSectionField(maps, 'size', 0xffffffff).bytes, /section 5 contents .* past the end/);
      expectRefused(bad.setSectionField(maps, 'size', 1n << 62n).bytes, /section 5 sh_size is \d+, too large/);
    });

    it('a section name offset outside the section name table', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      expectRefused(bad.setSectionField(5, 'name', 0x10000).bytes, /name of section 5 at offset 65536 .* past the end/);
    });

    it('a section name table without a terminating NUL', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      const strtab = bad.read(62, 2);
      const size = bad.sectionField(strtab, 'size');
      const offset = bad.sectionField(strtab, 'offset');
      // point a name at the last byte, then make that byte non-NUL
      bad.setSectionField(5, 'name', size - 1).write(offset + size - 1, 1, 0x41);
      expectRefused(bad.bytes, /name of section \d at offset \d+ is not NUL-terminated/);
    });
  });

  describe('symbols', () => {
    it('a symbol name index outside the string table', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      const counters = bad.symbolIndex('counters');
      expectRefused(bad.setSymbolField(counters, 'name', 0xfffffff0).bytes, new RegExp(`name of symbol ${counters} at offset \\d+ .* past the end`));
    });

    it('a symbol in a section that does not exist', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      const counters = bad.symbolIndex('counters');
      expectRefused(bad.setSymbolField(counters, 'shndx', 200).bytes, new RegExp(`symbol ${counters} refers to section 200, but there are 9`));
    });

    it('a symbol table whose size is not a whole number of entries, or with a wrong entry size', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      const symtab = bad.symtabIndex;
      const size = bad.sectionField(symtab, 'size');
      expectRefused(patch(bad.bytes).setSectionField(symtab, 'size', size - 5).bytes, /sec '\.symtab': size \d+ is not a multiple of 24/);
      expectRefused(patch(bad.bytes).setSectionField(symtab, 'entsize', 16).bytes, /symbol entry size is 16, expected 24/);
    });

    it('a symbol table linked to a section that is not a string table, or to none', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      const symtab = bad.symtabIndex;
      expectRefused(patch(bad.bytes).setSectionField(symtab, 'link', 5).bytes, /string table index 5 is not a string table/);
      expectRefused(patch(bad.bytes).setSectionField(symtab, 'link', 999).bytes, /string table index 999 is not a string table/);
    });

    it('two symbol tables', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      expectRefused(bad.setSectionField(bad.sectionIndex('.llvm_addrsig'), 'type', 2).bytes, /2 symbol tables, expected one|not a multiple of 24/);
    });
  });

  describe('relocations', () => {
    it('a relocation naming a symbol past the end of the symbol table', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      const [rel] = bad.relSections();
      bad.setRelocationSymbol(rel!, 0, 8);
      expectRefused(bad.bytes, /sec '\.relsocket1': relocation 0 refers to symbol 8, but the symbol table has 8/);
      bad.setRelocationSymbol(rel!, 0, 0xffffffff);
      expectRefused(bad.bytes, /relocation 0 refers to symbol 4294967295/);
    });

    it('a relocation section for a section that does not exist, or for section 0', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      const [rel] = bad.relSections();
      expectRefused(patch(bad.bytes).setSectionField(rel!, 'info', 77).bytes, /relocates section 77, which does not exist/);
      expectRefused(patch(bad.bytes).setSectionField(rel!, 'info', 0).bytes, /relocates section 0, which does not exist/);
    });

    it('a relocation section whose size is not a whole number of entries, or with a wrong entry size', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      const [rel] = bad.relSections();
      expectRefused(patch(bad.bytes).setSectionField(rel!, 'size', 8).bytes, /size 8 is not a multiple of 16/);
      expectRefused(patch(bad.bytes).setSectionField(rel!, 'entsize', 24).bytes, /relocation entry size is 24, expected 16/);
    });

    it('RELA relocations for a program section (never clang -target bpf), instead of loading it unpatched', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      const [rel] = bad.relSections();
      expectRefused(
        bad.setSectionField(rel!, 'type', 4).bytes,
        /sec '\.relsocket1': RELA relocations for program section 'socket1': BPF objects carry REL sections/,
      );
    });
  });

  describe('map definitions', () => {
    it('a non-zero byte in the unknown tail of a larger def names the map and the byte', () => {
      expectRefused(
        fixtureBytes('invalid_nonzero_tail_kern.o'),
        /sec 'maps': map 'tail_set': definition is 32 bytes and byte 28 .* is 0x[0-9a-f]{2}, not zero/,
        'invalid_nonzero_tail_kern.o',
      );
      const bad = patch(fixtureBytes('map_def32_zero_tail_kern.o'));
      const maps = bad.sectionIndex('maps');
      bad.write(bad.sectionField(maps, 'offset') + 32 + 31, 1, 0x80);
      expectRefused(bad.bytes, /map 'second': definition is 32 bytes and byte 31 \(section offset 63\) past the 28 known bytes is 0x80/);
    });

    it('a maps section whose size is not a multiple of the number of map symbols', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      expectRefused(
        bad.setSectionField(bad.sectionIndex('maps'), 'size', 47).bytes,
        /sec 'maps': section size 47 is not a multiple of its 3 map symbols/,
      );
    });

    it('a map whose symbol was stripped (the section holds more definitions than symbols) is named as the fault', () => {
      // what strip --strip-unneeded does to an object with a static map: its local symbol is gone
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      expectRefused(
        bad.setSymbolField(bad.symbolIndex('flows'), 'shndx', 0).bytes,
        /sec 'maps': section holds 3 definitions of 16 bytes but only 2 map symbols: 1 map\(s\) have no symbol, so no name \(was the object stripped\?/,
      );
    });

    it('a map symbol that is not on a definition boundary', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      expectRefused(
        bad.setSymbolField(bad.symbolIndex('flows'), 'value', 20).bytes,
        /sec 'maps': map 'flows': definition at offset 20 does not fit the 16-byte slots of a 48-byte section/,
      );
    });

    it('a map symbol past the end of the maps section', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      expectRefused(
        bad.setSymbolField(bad.symbolIndex('per_cpu_stats'), 'value', 48).bytes,
        /map 'per_cpu_stats': definition at offset 48 does not fit/,
      );
    });

    it('two map symbols at the same offset', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      expectRefused(bad.setSymbolField(bad.symbolIndex('flows'), 'value', 0).bytes, /map symbols 'counters' and 'flows' share offset 0/);
    });

    it('a definition smaller than 16 bytes, or not a whole number of fields', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      const maps = bad.sectionIndex('maps');
      bad.setSectionField(maps, 'size', 36).setSymbolField(bad.symbolIndex('flows'), 'value', 12).setSymbolField(bad.symbolIndex('per_cpu_stats'), 'value', 24);
      expectRefused(bad.bytes, /sec 'maps': map definitions are 12 bytes; at least 16 are needed/);
      bad.setSectionField(maps, 'size', 54).setSymbolField(bad.symbolIndex('flows'), 'value', 18).setSymbolField(bad.symbolIndex('per_cpu_stats'), 'value', 36);
      expectRefused(bad.bytes, /map definitions are 18 bytes, not a whole number of 4-byte fields/);
    });

    it('a symbol size that disagrees with the slot size', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      expectRefused(bad.setSymbolField(bad.symbolIndex('flows'), 'size', 20).bytes, /map 'flows': symbol is 20 bytes, but .* give 16 bytes per map/);
    });

    it('two sections named maps', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      const maps = bad.sectionIndex('maps');
      const license = bad.sectionIndex('license');
      expectRefused(
        bad.setSectionField(license, 'name', bad.sectionField(maps, 'name')).bytes,
        new RegExp(`sec 'maps': object has 2 sections named 'maps' \\(sections ${maps}, ${license}\\), expected one`),
      );
    });

    it('a maps section with bytes but no map symbols', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      for (const name of ['counters', 'flows', 'per_cpu_stats']) bad.setSymbolField(bad.symbolIndex(name), 'shndx', 6);
      expectRefused(bad.bytes, /sec '(maps|license)': /);
    });

    it('a NOBITS maps section claiming a huge size reads as zero definitions without allocating it', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      const maps = bad.sectionIndex('maps');
      const slot = 2 ** 40;
      bad.setSectionField(maps, 'type', SHT_NOBITS).setSectionField(maps, 'size', 3 * slot);
      bad.setSymbolField(bad.symbolIndex('counters'), 'size', 0);
      for (const [i, name] of ['counters', 'flows', 'per_cpu_stats'].entries()) {
        bad.setSymbolField(bad.symbolIndex(name), 'value', i * slot).setSymbolField(bad.symbolIndex(name), 'size', 0);
      }
      const spec = parseObject(bad.bytes, { file: FILE });
      expect(mapOrder(spec).map((m) => m.source.kind === 'maps' && [m.name, m.source.offset, m.source.defSize])).to.deep.equal([
        ['counters', 0, slot],
        ['flows', slot, slot],
        ['per_cpu_stats', 2 * slot, slot],
      ]);
      for (const map of mapOrder(spec)) expect([map.type, map.keySize, map.valueSize, map.maxEntries, map.flags].every((v) => v === 0)).to.equal(true);
    });
  });

  describe('license and version', () => {
    it('a license without a terminating NUL', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      expectRefused(bad.setSectionField(bad.sectionIndex('license'), 'size', 3).bytes, /sec 'license': license string is not NUL-terminated/);
    });

    it('a version section that is not 4 bytes', () => {
      const bad = patch(fixtureBytes('map_def16_kern.o'));
      const license = bad.sectionIndex('license');
      // rename "license" to "version" in place: same length, so the name table keeps its shape
      const strtab = bad.read(62, 2);
      const at = bad.sectionField(strtab, 'offset') + bad.sectionField(license, 'name');
      new TextEncoder().encodeInto('version', bad.bytes.subarray(at, at + 7));
      bad.setSectionField(license, 'size', 2);
      expectRefused(bad.bytes, /sec 'version': version section is 2 bytes, expected a 4-byte u32/);
    });
  });

  describe('the loader passes on the same errors', () => {
    it('loadBpfFile of a file that does not exist is a LoadError naming it and ENOENT', async () => {
      const missing = fixturePath('does_not_exist_kern.o');
      const error: unknown = await loadBpfFile(missing).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(LoadError);
      expect((error as Error).message).to.match(/does_not_exist_kern\.o: cannot read object: ENOENT/);
    });

    it('loadBpfFile of an x86-64 object is the ElfError, before any syscall', async () => {
      const before = openBpfFdCount();
      const error: unknown = await loadBpfFile(fixturePath('x86_64_object.o')).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(ElfError);
      expect((error as Error).message).to.match(/x86_64_object\.o: ELF machine is x86-64/);
      expect(openBpfFdCount()).to.equal(before);
    });
  });
});

describe('elf: string tables cost linear time, whatever the names', () => {
  // the second size is past where the next-NUL table would cost too much memory: scanned name by name instead
  for (const size of [1 << 20, NUL_TABLE_MAX_BYTES + (1 << 20)]) {
    it(`a name longer than 4096 bytes is refused; thousands of names running to one distant NUL are not re-scanned (${size} bytes)`, () => {
      const table = new Uint8Array(size).fill(0x41);
      table[table.length - 1] = 0;
      table[100] = 0;
      const reader = new ByteReader(table, true, { file: FILE, section: '.strtab' });
      expect(reader.cString(0, 'name of symbol 1')).to.equal('A'.repeat(100));
      expect(() => reader.cString(101, 'name of symbol 2'))
        .to.throw(ElfError)
        .with.property('message')
        .that.matches(new RegExp(`bad_kern\\.o: sec '\\.strtab': name of symbol 2 at offset 101 is ${size - 102} bytes long, more than 4096`));
      // every offset near the end resolves to the same NUL
      let names = 0;
      for (let offset = table.length - 4096; offset < table.length; offset++) names += reader.cString(offset, 'name').length >= 0 ? 1 : 0;
      expect(names).to.equal(4096);
      expect(reader.cString(table.length - 1, 'empty name')).to.equal('');
      expect(() => reader.cString(table.length, 'past the end')).to.throw(ElfError, /not NUL-terminated/);
      table[table.length - 1] = 0x41;
      expect(() => new ByteReader(table, true, { file: FILE }).cString(table.length - 10, 'last name')).to.throw(ElfError, /not NUL-terminated/);
    });
  }
});

describe('elf: section tables built to exhaust memory', () => {
  /** An ELF64 header, then `count` section headers whose names all point at offset `nameOffset` of section 1's table. */
  function manySections(count: number, table: Uint8Array, nameOffset: number): Uint8Array {
    const shoff = 64 + table.byteLength;
    const bytes = new Uint8Array(shoff + count * 64);
    const view = new DataView(bytes.buffer);
    bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
    view.setUint16(16, 1, true); // ET_REL
    view.setUint16(18, 247, true); // EM_BPF
    view.setBigUint64(40, BigInt(shoff), true);
    view.setUint16(52, 64, true);
    view.setUint16(58, 64, true);
    view.setUint16(60, count, true);
    view.setUint16(62, 1, true);
    bytes.set(table, 64);
    for (let i = 1; i < count; i++) {
      const base = shoff + i * 64;
      view.setUint32(base, nameOffset, true);
      view.setUint32(base + 4, i === 1 ? 3 : 1, true); // SHT_STRTAB, then SHT_PROGBITS
      view.setBigUint64(base + 24, 64n, true);
      view.setBigUint64(base + 32, BigInt(i === 1 ? table.byteLength : 0), true);
    }
    return bytes;
  }

  it('65535 sections all named by one 4 KiB string: refused as an ElfError before elfy copies the names', () => {
    const table = new Uint8Array(4100).fill(0x41);
    table[4095] = 0;
    expect(() => parseObject(manySections(65535, table, 0), { file: FILE }))
      .to.throw(ElfError)
      .with.property('message')
      .that.matches(/bad_kern\.o: section names add up to more than 4194304 bytes \(65535 sections\)/);
  });

  it('65535 sections named by an unterminated 64 KiB table: refused by the name length limit', () => {
    const table = new Uint8Array(65536).fill(0x41);
    expect(() => parseObject(manySections(65535, table, 0), { file: FILE }))
      .to.throw(ElfError, /name of section 1 at offset 0 is not NUL-terminated|more than 4096/);
  });
});

describe('elf: elfy reads the container, bpf-load checks what elfy trusts', () => {
  it('an exception of elfy\'s becomes an ElfError naming the file, with elfy\'s error as its cause', () => {
    // a 32-bit header whose section table runs past the end: readElf refuses the class before elfy
    // runs, so elfy is handed it directly here
    const bytes = new Uint8Array(64);
    bytes.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1], 0);
    new DataView(bytes.buffer).setUint32(32, 1000, true);
    new DataView(bytes.buffer).setUint16(48, 3, true);
    new DataView(bytes.buffer).setUint16(46, 40, true);
    let thrown: unknown;
    try {
      parseWithElfy(bytes, 3, FILE);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).to.be.instanceOf(ElfError);
    expect((thrown as ElfError).message).to.equal('bad_kern.o: malformed ELF container: Failed to slice chunks');
    expect((thrown as ElfError).cause).to.be.instanceOf(Error);
    expect(isBpfLoadError(thrown)).to.equal(true);
  });

  it('section contents are plain Uint8Array views of the caller\'s bytes: no copy, no Buffer', () => {
    const bytes = fixtureBytes('map_def16_kern.o');
    const elf = readElf(bytes, FILE);
    const maps = elf.sections.find((s) => s.name === 'maps')!;
    expect(Object.getPrototypeOf(maps.data)).to.equal(Uint8Array.prototype);
    expect(maps.data.buffer).to.equal(bytes.buffer);
    expect(maps.data.byteOffset).to.equal(bytes.byteOffset + maps.offset);
    expect(maps.data.byteLength).to.equal(maps.size);
    expect(elf.sections.map((s) => s.type)).to.include.members([SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_REL]);
  });

  it('sh_entsize is the header\'s (elfy reads an ELF64 one 2 bytes early, inside sh_addralign)', () => {
    const bad = patch(fixtureBytes('map_def16_kern.o'));
    const symtab = bad.sectionIndex('.symtab');
    const base = bad.read(40, 8) + symtab * 64;
    // sh_addralign's high bytes are where elfy looks for sh_entsize; the real one stays 24
    bad.write(base + 54, 2, 0xffff);
    expect(readElf(bad.bytes, FILE).sections[symtab]!.entsize).to.equal(24);
    expect(Object.keys(parseObject(bad.bytes, { file: FILE }).maps)).to.have.length(3);
  });

  it('every section type number elfy names comes back as the number', () => {
    const bytes = fixtureBytes('debuginfo_g_kern.o');
    const elf = readElf(bytes, FILE);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const shoff = Number(view.getBigUint64(40, true));
    expect(elf.sections.map((s) => s.type)).to.deep.equal(elf.sections.map((s) => view.getUint32(shoff + s.index * 64 + 4, true)));
  });
});
