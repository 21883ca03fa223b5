import { ByteReader } from './byteReader.js';
import { ElfError, type ElfErrorContext } from './errors.js';

/**
 * Where a function of an executable or shared library starts in its file:
 * the offset a uprobe is placed at (the kernel takes a file offset, not an
 * address). Read as libbpf's elf_find_func_offset() does: the dynamic symbol
 * table first, then the full one (a stripped binary has only the first, a
 * static one only the second); functions and GNU indirect functions; a name
 * may carry a version (`malloc@GLIBC_2.2.5`, `@@` for the default one); two
 * symbols of the name at different places are ambiguous unless all but one
 * are weak; the address becomes a file offset through the symbol's section
 * (through the PT_LOAD segment holding it for an absolute symbol).
 *
 * Only ELF64 files are read (the binaries of every 64-bit Linux); the file is
 * whatever the caller read, bounds-checked here field by field.
 */

const SHT_SYMTAB = 2;
const SHT_NOBITS = 8;
const SHT_DYNSYM = 11;
const SHT_GNU_VERDEF = 0x6ffffffd;
const SHT_GNU_VERSYM = 0x6fffffff;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const STB_WEAK = 2;
const SHN_UNDEF = 0;
const SHN_LORESERVE = 0xff00;
const PT_LOAD = 1;
const PF_X = 1;
const VERSYM_HIDDEN = 0x8000;
const VERSYM_VERSION = 0x7fff;
const ELFCLASS64 = 2;

interface Section {
  index: number;
  /** sh_name: the offset of the name in the section-name table */
  nameOffset: number;
  type: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

interface Segment {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
}

/** A function symbol, with where it starts in the file. */
export interface FunctionSymbol {
  /** as the table spells it (a `.symtab` name may carry `@VERSION`) */
  name: string;
  /** the version of a `.dynsym` entry, from `.gnu.version_d` */
  version: string | undefined;
  /** a version only reached by naming it (`name@VER`, not the default `@@VER`) */
  hidden: boolean;
  weak: boolean;
  /** 0: the symbol is undefined here (the function is imported from a shared library) */
  offset: number;
  defined: boolean;
  table: '.dynsym' | '.symtab';
}

export type FunctionLookup =
  | { found: true; offset: number; table: '.dynsym' | '.symtab'; symbol: string }
  | { found: false; reason: string };

/** The ELF64 tables a lookup needs, read once. */
export class ElfSymbolTables {
  readonly #reader: ByteReader;
  readonly #context: ElfErrorContext;
  readonly #sections: Section[];
  readonly #segments: Segment[];
  readonly #tables = new Map<number, FunctionSymbol[]>();
  /** ET_DYN: a shared library or a position-independent executable */
  readonly shared: boolean;

  constructor(bytes: Uint8Array, readonly file: string) {
    this.#context = { file };
    if (bytes.byteLength < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
      throw new ElfError('not an ELF file (no \\x7fELF magic)', this.#context);
    }
    if (bytes[4] !== ELFCLASS64) {
      throw new ElfError('a 32-bit ELF file: uprobes are placed in 64-bit binaries only here', this.#context);
    }
    if (bytes[5] !== 1 && bytes[5] !== 2) throw new ElfError(`unknown ELF data encoding ${bytes[5]}`, this.#context);
    const r = new ByteReader(bytes, bytes[5] === 1, this.#context);
    this.#reader = r;
    this.shared = r.u16(16, 'e_type') === 3;
    this.#sections = readSections(r, this.#context);
    this.#segments = readSegments(r);
  }

  /** The first section of this name: its address, where its bytes are, and how many. */
  section(name: string): { addr: number; offset: number; size: number; type: number } | undefined {
    const r = this.#reader;
    let index = r.u16(62, 'e_shstrndx');
    // more sections than a u16 holds: the index is section 0's sh_link
    if (index === 0xffff) index = this.#sections[0]?.link ?? 0;
    if (index === 0 || !this.#sections[index]) return undefined;
    const names = this.#stringTable(index, 'section name table');
    const found = this.#sections.find((s) => s.type !== 0 && names.cStringOf(s.nameOffset, 'name of section', s.index) === name);
    return found && { addr: found.addr, offset: found.offset, size: found.size, type: found.type };
  }

  /** The bytes of a section, bounds-checked. */
  sectionBytes(section: { offset: number; size: number }, what: string): Uint8Array {
    return this.#reader.slice(section.offset, section.size, what);
  }

  /**
   * The file offset of a run-time address, through the PT_LOAD segment that holds it (an
   * executable one when `executable`), as libbpf's find_elf_seg() maps USDT addresses; undefined
   * when none does.
   */
  addressToOffset(address: number, executable: boolean): number | undefined {
    const segment = this.#segments.find((s) => s.type === PT_LOAD && (!executable || (s.flags & PF_X) !== 0) &&
      address >= s.vaddr && address < s.vaddr + s.memsz);
    return segment ? address - segment.vaddr + segment.offset : undefined;
  }

  get littleEndian(): boolean {
    return this.#reader.littleEndian;
  }

  /** The function symbols of `.dynsym` or `.symtab`; none when the file has no such table. */
  functions(table: '.dynsym' | '.symtab'): FunctionSymbol[] {
    const type = table === '.dynsym' ? SHT_DYNSYM : SHT_SYMTAB;
    let symbols = this.#tables.get(type);
    if (!symbols) {
      symbols = this.#readFunctions(type, table);
      this.#tables.set(type, symbols);
    }
    return symbols;
  }

  #readFunctions(type: number, table: '.dynsym' | '.symtab'): FunctionSymbol[] {
    const section = this.#sections.find((s) => s.type === type);
    if (!section) return [];
    const r = this.#reader;
    const strings = this.#stringTable(section.link, `${table} string table`);
    const versions = type === SHT_DYNSYM ? this.#versions(section) : undefined;
    const entsize = section.entsize || 24;
    if (entsize < 24) throw new ElfError(`${table} has ${entsize}-byte entries, less than an Elf64_Sym`, this.#context);
    r.require(section.offset, section.size, `${table} (section ${section.index})`);
    const count = Math.floor(section.size / entsize);
    const out: FunctionSymbol[] = [];
    for (let i = 1; i < count; i++) {
      const at = section.offset + i * entsize;
      const info = r.u8(at + 4, 'st_info');
      const kind = info & 0xf;
      if (kind !== STT_FUNC && kind !== STT_GNU_IFUNC) continue;
      const nameOffset = r.u32(at, 'st_name');
      if (nameOffset === 0) continue;
      const name = strings.cStringOf(nameOffset, `name of ${table} symbol`, i);
      const shndx = r.u16(at + 6, 'st_shndx');
      const value = r.u64Of(at + 8, `${table} symbol`, i, 'st_value');
      const versym = versions?.symbols[i];
      const defined = shndx !== SHN_UNDEF;
      out.push({
        name,
        version: versym === undefined ? undefined : versions!.names.get(versym & VERSYM_VERSION),
        hidden: versym !== undefined && (versym & VERSYM_HIDDEN) !== 0,
        weak: info >> 4 === STB_WEAK,
        offset: defined ? this.#fileOffset(value, shndx) : 0,
        defined,
        table,
      });
    }
    return out;
  }

  /** The address as a file offset: through the symbol's section, or the segment that loads it. */
  #fileOffset(address: number, shndx: number): number {
    const section = shndx < SHN_LORESERVE ? this.#sections[shndx] : undefined;
    if (section && section.type !== SHT_NOBITS && address >= section.addr && address - section.addr <= section.size) {
      return address - section.addr + section.offset;
    }
    const segment = this.#segments.find((s) => s.type === PT_LOAD && address >= s.vaddr && address < s.vaddr + s.filesz);
    return segment ? address - segment.vaddr + segment.offset : 0;
  }

  #stringTable(index: number, what: string): ByteReader {
    const section = this.#sections[index];
    if (!section) throw new ElfError(`${what}: section ${index} does not exist`, this.#context);
    // a reader of its own: a string read builds a table the size of its bytes, not the whole binary's
    return new ByteReader(this.#reader.slice(section.offset, section.size, what), this.#reader.littleEndian, this.#context);
  }

  /** `.gnu.version` (one u16 per dynamic symbol) and the names `.gnu.version_d` gives the indexes. */
  #versions(dynsym: Section): { symbols: Uint16Array; names: Map<number, string> } | undefined {
    const versym = this.#sections.find((s) => s.type === SHT_GNU_VERSYM && s.link === dynsym.index);
    if (!versym) return undefined;
    const r = this.#reader;
    r.require(versym.offset, versym.size, '.gnu.version');
    const symbols = new Uint16Array(Math.floor(versym.size / 2));
    for (let i = 0; i < symbols.length; i++) symbols[i] = r.u16(versym.offset + 2 * i, '.gnu.version entry');
    const names = new Map<number, string>();
    const verdef = this.#sections.find((s) => s.type === SHT_GNU_VERDEF);
    if (verdef) {
      const strings = this.#stringTable(verdef.link, '.gnu.version_d string table');
      let at = verdef.offset;
      // vd_next chains the entries; a loop bound keeps a corrupt chain finite
      for (let n = 0; n < 65536; n++) {
        const ndx = r.u16(at + 4, 'vd_ndx');
        const aux = r.u32(at + 12, 'vd_aux');
        names.set(ndx, strings.cString(r.u32(at + aux, 'vda_name'), 'version name'));
        const next = r.u32(at + 16, 'vd_next');
        if (next === 0) break;
        at += next;
      }
    }
    return { symbols, names };
  }
}

function readSections(r: ByteReader, context: ElfErrorContext): Section[] {
  const shoff = r.u64(40, 'e_shoff');
  const shentsize = r.u16(58, 'e_shentsize');
  let shnum = r.u16(60, 'e_shnum');
  if (shoff === 0) return [];
  if (shentsize < 64) throw new ElfError(`e_shentsize ${shentsize} is less than an Elf64_Shdr`, context);
  // more sections than e_shnum holds: the count is section 0's sh_size
  if (shnum === 0) shnum = r.u64(shoff + 32, 'section 0 sh_size');
  r.require(shoff, shnum * shentsize, 'section headers');
  const sections: Section[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    sections.push({
      index: i,
      nameOffset: r.u32(at, 'sh_name'),
      type: r.u32(at + 4, 'sh_type'),
      addr: r.u64Of(at + 16, 'section', i, 'sh_addr'),
      offset: r.u64Of(at + 24, 'section', i, 'sh_offset'),
      size: r.u64Of(at + 32, 'section', i, 'sh_size'),
      link: r.u32(at + 40, 'sh_link'),
      entsize: r.u64Of(at + 56, 'section', i, 'sh_entsize'),
    });
  }
  return sections;
}

function readSegments(r: ByteReader): Segment[] {
  const phoff = r.u64(32, 'e_phoff');
  const phentsize = r.u16(54, 'e_phentsize');
  const phnum = r.u16(56, 'e_phnum');
  if (phoff === 0 || phnum === 0 || phentsize < 56) return [];
  const segments: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    segments.push({
      type: r.u32(at, 'p_type'),
      flags: r.u32(at + 4, 'p_flags'),
      offset: r.u64Of(at + 8, 'program header', i, 'p_offset'),
      vaddr: r.u64Of(at + 16, 'program header', i, 'p_vaddr'),
      filesz: r.u64Of(at + 32, 'program header', i, 'p_filesz'),
      memsz: r.u64Of(at + 40, 'program header', i, 'p_memsz'),
    });
  }
  return segments;
}

/** `name`, `name@VER` or `name@@VER`: the name and the version asked for. */
function splitVersion(name: string): { base: string; version: string | undefined } {
  const at = name.indexOf('@');
  if (at < 0) return { base: name, version: undefined };
  return { base: name.slice(0, at), version: name.slice(name[at + 1] === '@' ? at + 2 : at + 1) };
}

function matchesName(symbol: FunctionSymbol, base: string, version: string | undefined): boolean {
  const own = splitVersion(symbol.name);
  if (own.base !== base) return false;
  if (version === undefined) return !symbol.hidden;
  return symbol.table === '.dynsym' && own.version === undefined ? symbol.version === version : own.version === version;
}

/**
 * The file offset of function `name` (libbpf's rules, above). Not found,
 * only imported, at address 0, or ambiguous: `found: false` and why, for the
 * caller's message.
 */
export function findFunctionOffset(tables: ElfSymbolTables, name: string): FunctionLookup {
  const { base, version } = splitVersion(name);
  let imported = false;
  for (const table of ['.dynsym', '.symtab'] as const) {
    let best: FunctionSymbol | undefined;
    for (const symbol of tables.functions(table)) {
      if (!matchesName(symbol, base, version)) continue;
      if (!symbol.defined) {
        imported = true;
        continue;
      }
      if (best && best.offset !== symbol.offset) {
        if (!best.weak && !symbol.weak) {
          return { found: false, reason: `'${name}' is ambiguous: ${table} has it at file offsets 0x${best.offset.toString(16)} and 0x${symbol.offset.toString(16)}` };
        }
        if (symbol.weak) continue;
      }
      best = symbol;
    }
    if (best) {
      if (best.offset === 0) {
        return {
          found: false,
          reason: `'${name}' is at address 0 in ${table}${tables.shared ? ', which a shared library should not have' : ' (try the shared library that defines it)'}`,
        };
      }
      return { found: true, offset: best.offset, table, symbol: best.name };
    }
  }
  if (imported) return { found: false, reason: `'${name}' is only imported here (undefined): attach to the shared library that defines it` };
  const none = tables.functions('.dynsym').length + tables.functions('.symtab').length === 0;
  return { found: false, reason: none ? 'the file has no function symbols (.dynsym, .symtab)' : `no function '${name}' in its symbol tables (.dynsym, .symtab)` };
}

/** libbpf's glob_match(): `*` any run, `?` any one character, anything else itself. */
export function globMatch(text: string, pattern: string): boolean {
  let t = 0;
  let p = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      t++;
      p++;
    } else if (p < pattern.length && pattern[p] === '*') {
      starP = p++;
      starT = t;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/**
 * The defined functions whose names match glob `pattern`, as libbpf's
 * elf_resolve_pattern_offsets() finds them for uprobe.multi: `.symtab`
 * first, `.dynsym` only when it gave none (the same functions twice would
 * be probed twice).
 */
export function findFunctionsMatching(tables: ElfSymbolTables, pattern: string): { name: string; offset: number }[] {
  for (const table of ['.symtab', '.dynsym'] as const) {
    const found = tables.functions(table)
      .filter((s) => s.defined && s.offset !== 0 && globMatch(s.name, pattern))
      .map((s) => ({ name: s.name, offset: s.offset }));
    if (found.length) return found;
  }
  return [];
}
