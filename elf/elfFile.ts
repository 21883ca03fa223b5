import elfy from 'elfy';
import { ByteReader, decodeUtf8, isAscii } from './byteReader.js';
import { ElfError } from './errors.js';

export const EM_NONE = 0;
export const EM_BPF = 247;
export const ET_REL = 1;

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;

export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;

const ELF64_EHDR_SIZE = 64;
const ELF64_SHDR_SIZE = 64;
const ELF64_PHDR_SIZE = 56;
const ELF64_SYM_SIZE = 24;
/** far above any real object (thousands of sections with -ffunction-sections are still < 1 MiB) */
const MAX_SECTION_NAME_BYTES = 4 * 1024 * 1024;
const ELF64_REL_SIZE = 16;
/** a string table up to this size is decoded in one piece when it is all ASCII (real objects' are a few KiB) */
const ASCII_TABLE_MAX_BYTES = 1024 * 1024;

/** Names users recognise when they hand in the wrong kind of object. */
const MACHINE_NAMES: Record<number, string> = {
  3: 'x86 (i386)', 8: 'MIPS', 20: 'PowerPC', 21: 'PowerPC64', 22: 's390', 40: 'ARM', 62: 'x86-64',
  183: 'AArch64', 243: 'RISC-V', 258: 'LoongArch',
};

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
  /** the section's bytes; empty for SHT_NOBITS */
  data: Uint8Array;
}

export interface ElfSymbol {
  index: number;
  name: string;
  type: number;
  bind: number;
  /** STV_* of st_other: 2 (hidden) and 1 (internal) keep a global symbol inside its object */
  visibility: number;
  shndx: number;
  value: number;
  size: number;
}

export interface ElfRelocation {
  /** byte offset inside the target section */
  offset: number;
  symbolIndex: number;
  type: number;
}

export interface ElfFile {
  littleEndian: boolean;
  machine: number;
  sections: ElfSection[];
  /** the symbol table; index 0 is the null symbol */
  symbols: ElfSymbol[];
  /** SHT_REL sections of programs and of `.maps`, read and bounds-checked, keyed by the index of the section they patch */
  relocations: Map<number, { section: ElfSection; entries: ElfRelocation[] }>;
}

/**
 * Read the ELF container. elfy reads the header's section table, the section
 * headers, their names and their bytes; this module checks first everything
 * elfy trusts (elfy validates nothing: it slices whatever an offset says and
 * scans every name to its NUL), then reads what elfy does not: symbols and REL
 * relocations, with every offset, size, count and index checked against the
 * file. One pass of elfy per object; nothing is parsed twice.
 */
export function readElf(bytes: Uint8Array, file: string): ElfFile {
  checkElfMagic(bytes, file);
  // a 64-bit ELF of either byte order; the refusal is built apart (badIdent)
  const data = bytes[5];
  if (bytes.byteLength < ELF64_EHDR_SIZE || bytes[4] !== 2 || (data !== 1 && data !== 2)) throw badIdent(bytes, file);
  const littleEndian = data === 1;
  const raw = new ByteReader(bytes, littleEndian, { file });

  // elfy has no name for EM_BPF (its machine is undefined for 247): these two are read here,
  // unchecked, as the identification check passed a whole 64-byte header
  const fileType = raw.view.getUint16(16, littleEndian);
  const machine = raw.view.getUint16(18, littleEndian);
  if ((machine !== EM_BPF && machine !== EM_NONE) || fileType !== ET_REL) throw notBpfObject(fileType, machine, file);
  const checked = checkSectionTable(raw, file);
  const parsed = parseWithElfy(bytes, checked.shnum, file);
  const sections = readSections(parsed, checked);
  const symbols = readSymbols(sections, parsed, littleEndian, file);
  const relocations = readRelocations(sections, symbols.length, littleEndian, file);
  return { littleEndian, machine, sections, symbols, relocations };
}

/*
 * The refusals of readElf() (its identification and machine checks) are made apart from the
 * checks: the checks of a valid object are then small enough for V8 to compile into their callers.
 */

/** The error for an ELF header whose machine is not BPF, else whose type is not ET_REL. */
function notBpfObject(fileType: number, machine: number, file: string): ElfError {
  if (machine !== EM_BPF && machine !== EM_NONE) {
    const known = MACHINE_NAMES[machine];
    return new ElfError(
      `ELF machine is ${known ? `${known} (e_machine ${machine})` : `e_machine ${machine}`}, not BPF (247): ` +
        `build the object with clang -target bpf`,
      { file },
    );
  }
  return new ElfError(`ELF type is ${fileType}, not a relocatable object (ET_REL): build with clang -c`, { file });
}

/** What checkSectionTable() read of each section's header that readSections() takes instead of elfy's reading. */
interface CheckedTable {
  shnum: number;
  /** sh_type: elfy reads the same number and gives it as a name where it knows one, which would be mapped back */
  types: number[];
  /** the low word of sh_flags: elfy adds the two 32-bit halves as a float, which loses the low bits when reserved high ones are set */
  flags: Uint32Array;
  /** elfy reads an ELF64 sh_entsize at byte 54 of the header instead of 56 */
  entsizes: number[];
}

/**
 * Every check elfy needs before it runs, in the order the faults are reported:
 * the section header table inside the file with 64-byte entries (elfy reads
 * fixed offsets of each entry and would throw a RangeError on a shorter one),
 * well-formed program headers (elfy reads them too), the section name table a
 * string table (elfy asserts it), every section's contents inside the file
 * (elfy slices them clamped, silently short), and every name NUL-terminated
 * inside the name table and bounded in total (elfy scans each name to its NUL
 * and copies it: 65535 headers naming one long unterminated string would make
 * gigabytes of copies inside it).
 */
function checkSectionTable(raw: ByteReader, file: string): CheckedTable {
  const shoff = raw.u64(40, 'e_shoff');
  // inside the header readElf() checked is whole, as every 16-bit field here
  const shentsize = raw.view.getUint16(58, raw.littleEndian);
  const shnum = raw.view.getUint16(60, raw.littleEndian);
  const shstrndx = raw.view.getUint16(62, raw.littleEndian);
  if (shnum === 0 || shoff === 0) throw new ElfError('object has no section header table', { file });
  if (shentsize !== ELF64_SHDR_SIZE) {
    throw new ElfError(`section header size is ${shentsize}, expected ${ELF64_SHDR_SIZE}`, { file });
  }
  raw.require(shoff, shnum * ELF64_SHDR_SIZE, 'section header table');
  if (shstrndx >= shnum) {
    throw new ElfError(`section name table index ${shstrndx} is out of range (${shnum} sections)`, { file });
  }
  // inside the table required above
  const shstrtabType = raw.view.getUint32(shoff + shstrndx * ELF64_SHDR_SIZE + 4, raw.littleEndian);
  if (shstrtabType !== SHT_STRTAB) {
    throw new ElfError(`section name table (section ${shstrndx}) is not a string table (sh_type ${shstrtabType})`, { file });
  }
  const phnum = raw.view.getUint16(56, raw.littleEndian);
  if (phnum !== 0) {
    // a relocatable object has no use for program headers, but elfy reads them: they must at least be well-formed
    const phentsize = raw.view.getUint16(54, raw.littleEndian);
    if (phentsize !== ELF64_PHDR_SIZE) {
      throw new ElfError(`program header size is ${phentsize}, expected ${ELF64_PHDR_SIZE}`, { file });
    }
    raw.require(raw.u64(32, 'e_phoff'), phnum * phentsize, 'program header table');
  }

  const flags = new Uint32Array(shnum);
  const entsizes = new Array<number>(shnum);
  const types = new Array<number>(shnum);
  let names: ByteReader | undefined;
  // the 32-bit fields sit inside the table checked above, so they are read unchecked; a 64-bit one
  // can still be too large, and its label is formatted only then
  const { view, littleEndian } = raw;
  for (let index = 0; index < shnum; index++) {
    const base = shoff + index * ELF64_SHDR_SIZE;
    const type = view.getUint32(base + 4, littleEndian);
    types[index] = type;
    const offset = raw.u64Of(base + 24, 'section', index, 'sh_offset');
    const size = raw.u64Of(base + 32, 'section', index, 'sh_size');
    // the contents are checked before any later field is read: a bad offset is the error to report first
    // (both are safe integers by now, so the sum is the whole of require()'s test)
    if (type !== SHT_NOBITS && type !== SHT_NULL && offset + size > raw.length) raw.require(offset, size, () => `section ${index} contents`);
    if (index === shstrndx) names = new ByteReader(raw.bytes.subarray(offset, offset + size), littleEndian, { file, section: '.shstrtab' });
    // every SHF_* flag lives in the low 32 bits; the high ones are reserved and mean nothing to a loader
    flags[index] = view.getUint32(base + 8 + (littleEndian ? 0 : 4), littleEndian);
    entsizes[index] = raw.u64Of(base + 56, 'section', index, 'sh_entsize');
  }

  // section 0's name is never used (elfy's scan of it is bounded by the table's size)
  let nameBytes = 0;
  for (let index = 1; index < shnum; index++) {
    nameBytes += names!.cStringLengthOf(view.getUint32(shoff + index * ELF64_SHDR_SIZE, littleEndian), 'name of section', index);
    if (nameBytes > MAX_SECTION_NAME_BYTES) {
      throw new ElfError(
        `section names add up to more than ${MAX_SECTION_NAME_BYTES} bytes (${shnum} sections): not an object a compiler made`,
        { file },
      );
    }
  }
  return { shnum, types, flags, entsizes };
}

/**
 * What readSections() takes of elfy's section entries. Declared here, not taken
 * from elf/elfy.d.ts, so that the emitted declarations never name elfy: an
 * importer's strict TypeScript would find no types for it.
 */
export interface ElfyContainerSection {
  name: string;
  off: number;
  size: number;
  link: number;
  info: number;
  /** a view of the bytes elfy was given (elfy slices a Buffer) */
  data: Buffer;
}

/**
 * elfy's section table, of a file checkSectionTable() has passed; any throw of
 * elfy's becomes the ElfError (exported for the test that proves it).
 */
export function parseWithElfy(bytes: Uint8Array, shnum: number, file: string): ElfyContainerSection[] {
  let sections: ElfyContainerSection[] | undefined;
  try {
    // elfy reads with Buffer methods: a Buffer view of the same memory, no copy
    const buffer = bytes instanceof Buffer ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    sections = elfy.parse(buffer).body.sections;
  } catch (cause) {
    throw malformedContainer(cause, file);
  }
  if (!Array.isArray(sections) || sections.length !== shnum) throw sectionCountMismatch(sections, shnum, file);
  return sections;
}

// parseWithElfy()'s refusals, made apart so that V8 can compile its usual path into its caller

/** elfy throws bare Errors, AssertionErrors and RangeErrors, none of which names the file. */
function malformedContainer(cause: unknown, file: string): ElfError {
  return new ElfError(`malformed ELF container: ${(cause as Error)?.message ?? String(cause)}`, { file }, { cause });
}

function sectionCountMismatch(sections: unknown, shnum: number, file: string): ElfError {
  return new ElfError(`the section table reads as ${Array.isArray(sections) ? sections.length : 'no'} entries, the header says ${shnum}`, { file });
}

function readSections(parsed: ElfyContainerSection[], checked: CheckedTable): ElfSection[] {
  const sections: ElfSection[] = [];
  for (let index = 0; index < parsed.length; index++) {
    const section = parsed[index]!;
    const type = checked.types[index]!;
    sections.push({
      index,
      name: index === 0 ? '' : section.name,
      type,
      flags: checked.flags[index]!,
      offset: section.off,
      size: section.size,
      link: section.link,
      info: section.info,
      entsize: checked.entsizes[index]!,
      // a plain Uint8Array view, as every reader downstream expects: a Buffer's slice() is a view, not a copy
      data: type === SHT_NOBITS || type === SHT_NULL
        ? new Uint8Array(0)
        : new Uint8Array(section.data.buffer, section.data.byteOffset, section.data.byteLength),
    });
  }
  return sections;
}

/** The first section named `name`, or undefined. A loop, not find() with a closure: every parse looks up a few. */
export function sectionNamed(elf: Pick<ElfFile, 'sections'>, name: string): ElfSection | undefined {
  for (const section of elf.sections) if (section.name === name) return section;
  return undefined;
}

/** Refuse what does not start with \x7fELF: the first 4 bytes of a file are enough to say it is no object. */
export function checkElfMagic(bytes: Uint8Array, file: string): void {
  if (bytes.byteLength < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ElfError('not an ELF file (no \\x7fELF magic): expected an object built with clang -target bpf -c', {
      file,
    });
  }
}

/** The error for an identification readElf() refuses, in the order it is read: size, class, data encoding. */
function badIdent(bytes: Uint8Array, file: string): ElfError {
  if (bytes.byteLength < ELF64_EHDR_SIZE) {
    return new ElfError(`truncated ELF header: ${bytes.byteLength} bytes, need ${ELF64_EHDR_SIZE}`, { file });
  }
  const elfClass = bytes[4];
  if (elfClass !== 2) {
    return new ElfError(
      `ELF class is ${elfClass === 1 ? '32-bit' : `unknown (${elfClass})`}; BPF objects are 64-bit`,
      { file },
    );
  }
  return new ElfError(`ELF data encoding ${bytes[5]} is neither little- nor big-endian`, { file });
}

function readSymbols(sections: ElfSection[], parsed: ElfyContainerSection[], littleEndian: boolean, file: string): ElfSymbol[] {
  let symtab: ElfSection | undefined;
  let tables = 0;
  for (const section of sections) {
    if (section.type !== SHT_SYMTAB) continue;
    symtab ??= section;
    tables++;
  }
  if (!symtab) return [];
  if (tables > 1) throw new ElfError(`object has ${tables} symbol tables, expected one`, { file });
  if (symtab.entsize !== 0 && symtab.entsize !== ELF64_SYM_SIZE) {
    throw new ElfError(`symbol entry size is ${symtab.entsize}, expected ${ELF64_SYM_SIZE}`, { file, section: symtab.name });
  }
  if (symtab.size % ELF64_SYM_SIZE !== 0) {
    throw new ElfError(`size ${symtab.size} is not a multiple of ${ELF64_SYM_SIZE}`, { file, section: symtab.name });
  }
  const strtab = sections[symtab.link];
  if (!strtab || strtab.type !== SHT_STRTAB) {
    throw new ElfError(`string table index ${symtab.link} is not a string table`, { file, section: symtab.name });
  }
  const reader = new ByteReader(symtab.data, littleEndian, { file, section: symtab.name });
  const strings = new ByteReader(strtab.data, littleEndian, { file, section: strtab.name });
  // decoded as elfy decodes section names (Buffer's toString() of its view): no other decoder's code runs
  const text = strtab.data.byteLength <= ASCII_TABLE_MAX_BYTES && isAscii(strtab.data) ? parsed[symtab.link]!.data.toString() : undefined;
  // the contents are inside the file (checkSectionTable) and the size a whole number of entries:
  // the 8-, 16- and 32-bit fields are read unchecked
  const { view } = reader;
  const count = symtab.size / ELF64_SYM_SIZE;
  const symbols: ElfSymbol[] = [];
  for (let index = 0; index < count; index++) {
    const base = index * ELF64_SYM_SIZE;
    const info = view.getUint8(base + 4);
    const shndx = view.getUint16(base + 6, littleEndian);
    if (shndx !== SHN_UNDEF && shndx < SHN_LORESERVE && shndx >= sections.length) {
      throw new ElfError(`symbol ${index} refers to section ${shndx}, but there are ${sections.length}`, {
        file,
        section: symtab.name,
      });
    }
    const nameAt = view.getUint32(base, littleEndian);
    const nameEnd = nameAt + strings.cStringLengthOf(nameAt, 'name of symbol', index);
    symbols.push({
      index,
      name: text !== undefined ? text.substring(nameAt, nameEnd) : decodeUtf8(strtab.data.subarray(nameAt, nameEnd)),
      type: info & 0xf,
      bind: info >> 4,
      visibility: view.getUint8(base + 5) & 3,
      shndx,
      value: reader.u64Of(base + 8, 'symbol', index, 'st_value'),
      size: reader.u64Of(base + 16, 'symbol', index, 'st_size'),
    });
  }
  return symbols;
}

function readRelocations(
  sections: ElfSection[],
  symbolCount: number,
  littleEndian: boolean,
  file: string,
): ElfFile['relocations'] {
  const result: ElfFile['relocations'] = new Map();
  for (const section of sections) {
    if (section.type !== SHT_REL && section.type !== SHT_RELA) continue;
    const context = { file, section: section.name };
    if (section.type === SHT_RELA) {
      // ignoring these would load the program with its map references unpatched, for the verifier to refuse obscurely
      const target = sections[section.info];
      if (target && target.flags & SHF_EXECINSTR) {
        throw new ElfError(
          `RELA relocations for program section '${target.name}': BPF objects carry REL sections ` +
            `(clang -target bpf emits .rel${target.name}); this object was not made by clang -target bpf -c`,
          context,
        );
      }
      continue;
    }
    if (section.entsize !== 0 && section.entsize !== ELF64_REL_SIZE) {
      throw new ElfError(`relocation entry size is ${section.entsize}, expected ${ELF64_REL_SIZE}`, context);
    }
    if (section.size % ELF64_REL_SIZE !== 0) {
      throw new ElfError(`size ${section.size} is not a multiple of ${ELF64_REL_SIZE}`, context);
    }
    const target = sections[section.info];
    if (!target || section.info === 0) {
      throw new ElfError(`relocates section ${section.info}, which does not exist`, context);
    }
    // only programs' and `.maps`' relocations mean anything to a loader (libbpf reads no others); those of
    // the debug sections (-g) are thousands of entries, most of the objects' parse if they were decoded
    if (!(target.flags & SHF_EXECINSTR) && target.name !== '.maps') continue;
    const reader = new ByteReader(section.data, littleEndian, context);
    // inside the file and a whole number of entries: the 32-bit halves of r_info are read unchecked
    const { view } = reader;
    const entries: ElfRelocation[] = [];
    for (let base = 0; base < section.size; base += ELF64_REL_SIZE) {
      const entry = base / ELF64_REL_SIZE;
      const offset = reader.u64Of(base, 'relocation', entry, 'r_offset');
      const type = view.getUint32(base + 8 + (littleEndian ? 0 : 4), littleEndian);
      const symbolIndex = view.getUint32(base + 8 + (littleEndian ? 4 : 0), littleEndian);
      if (symbolIndex >= symbolCount) {
        throw new ElfError(
          `relocation ${entry} refers to symbol ${symbolIndex}, but the symbol table has ${symbolCount}`,
          context,
        );
      }
      entries.push({ offset, symbolIndex, type });
    }
    if (result.has(section.info)) {
      throw new ElfError(`section ${target.name} has more than one relocation section`, context);
    }
    result.set(section.info, { section, entries });
  }
  return result;
}
