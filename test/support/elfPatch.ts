/**
 * Build malformed objects from good ones: locate header fields, section
 * headers, symbols and relocations of a little-endian ELF64 file and overwrite
 * them. Deliberately independent of elf/ (its own minimal reads), so a bug in
 * the reader under test cannot hide in the helper that corrupts its input.
 */

export const EHDR = {
  class: 4,
  data: 5,
  type: 16,
  machine: 18,
  shoff: 40,
  shentsize: 58,
  shnum: 60,
  shstrndx: 62,
} as const;

/** Elf64_Shdr field offsets and widths. */
export const SHDR = {
  name: [0, 4],
  type: [4, 4],
  flags: [8, 8],
  offset: [24, 8],
  size: [32, 8],
  link: [40, 4],
  info: [44, 4],
  entsize: [56, 8],
} as const satisfies Record<string, readonly [number, 4 | 8]>;

/** Elf64_Sym field offsets and widths. */
export const SYM = {
  name: [0, 4],
  info: [4, 1],
  shndx: [6, 2],
  value: [8, 8],
  size: [16, 8],
} as const satisfies Record<string, readonly [number, 1 | 2 | 4 | 8]>;

const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const REL_SIZE = 16;
const SHT_SYMTAB = 2;
const SHT_REL = 9;

export class ElfPatch {
  /** a private copy: patching never touches the fixture's bytes */
  readonly bytes: Uint8Array;
  readonly view: DataView;

  constructor(original: Uint8Array) {
    this.bytes = Uint8Array.from(original);
    this.view = new DataView(this.bytes.buffer);
    if (this.bytes[EHDR.class] !== 2 || this.bytes[EHDR.data] !== 1) {
      throw new Error('elfPatch handles little-endian ELF64 fixtures only');
    }
  }

  read(offset: number, width: 1 | 2 | 4 | 8): number {
    switch (width) {
      case 1: return this.view.getUint8(offset);
      case 2: return this.view.getUint16(offset, true);
      case 4: return this.view.getUint32(offset, true);
      case 8: return Number(this.view.getBigUint64(offset, true));
    }
  }

  write(offset: number, width: 1 | 2 | 4 | 8, value: number | bigint): this {
    switch (width) {
      case 1: this.view.setUint8(offset, Number(value)); break;
      case 2: this.view.setUint16(offset, Number(value), true); break;
      case 4: this.view.setUint32(offset, Number(value), true); break;
      case 8: this.view.setBigUint64(offset, BigInt(value), true); break;
    }
    return this;
  }

  get shoff(): number {
    return this.read(EHDR.shoff, 8);
  }

  get shnum(): number {
    return this.read(EHDR.shnum, 2);
  }

  sectionHeaderOffset(index: number): number {
    if (index < 0 || index >= this.shnum) throw new Error(`elfPatch: no section ${index}`);
    return this.shoff + index * SHDR_SIZE;
  }

  sectionField(index: number, field: keyof typeof SHDR): number {
    const [at, width] = SHDR[field];
    return this.read(this.sectionHeaderOffset(index) + at, width);
  }

  setSectionField(index: number, field: keyof typeof SHDR, value: number | bigint): this {
    const [at, width] = SHDR[field];
    return this.write(this.sectionHeaderOffset(index) + at, width, value);
  }

  sectionName(index: number): string {
    const strndx = this.read(EHDR.shstrndx, 2);
    return this.cString(this.sectionField(strndx, 'offset') + this.sectionField(index, 'name'));
  }

  /** Index of the section with this name; throws when absent so a test cannot silently patch nothing. */
  sectionIndex(name: string): number {
    for (let i = 0; i < this.shnum; i++) if (this.sectionName(i) === name) return i;
    throw new Error(`elfPatch: no section named '${name}'`);
  }

  sectionIndexOfType(type: number): number {
    for (let i = 0; i < this.shnum; i++) if (this.sectionField(i, 'type') === type) return i;
    throw new Error(`elfPatch: no section of type ${type}`);
  }

  get symtabIndex(): number {
    return this.sectionIndexOfType(SHT_SYMTAB);
  }

  get symbolCount(): number {
    return this.sectionField(this.symtabIndex, 'size') / SYM_SIZE;
  }

  symbolOffset(index: number): number {
    if (index < 0 || index >= this.symbolCount) throw new Error(`elfPatch: no symbol ${index}`);
    return this.sectionField(this.symtabIndex, 'offset') + index * SYM_SIZE;
  }

  symbolField(index: number, field: keyof typeof SYM): number {
    const [at, width] = SYM[field];
    return this.read(this.symbolOffset(index) + at, width);
  }

  setSymbolField(index: number, field: keyof typeof SYM, value: number | bigint): this {
    const [at, width] = SYM[field];
    return this.write(this.symbolOffset(index) + at, width, value);
  }

  symbolName(index: number): string {
    const strtab = this.sectionField(this.symtabIndex, 'link');
    return this.cString(this.sectionField(strtab, 'offset') + this.symbolField(index, 'name'));
  }

  symbolIndex(name: string): number {
    for (let i = 1; i < this.symbolCount; i++) if (this.symbolName(i) === name) return i;
    throw new Error(`elfPatch: no symbol named '${name}'`);
  }

  /** Section indices of the REL sections. */
  relSections(): number[] {
    const found: number[] = [];
    for (let i = 0; i < this.shnum; i++) if (this.sectionField(i, 'type') === SHT_REL) found.push(i);
    return found;
  }

  /** Byte offset of relocation `entry` of REL section `section`. */
  relocationOffset(section: number, entry: number): number {
    if (entry < 0 || entry * REL_SIZE >= this.sectionField(section, 'size')) {
      throw new Error(`elfPatch: section ${section} has no relocation ${entry}`);
    }
    return this.sectionField(section, 'offset') + entry * REL_SIZE;
  }

  setRelocationSymbol(section: number, entry: number, symbol: number): this {
    return this.write(this.relocationOffset(section, entry) + 12, 4, symbol);
  }

  /** A copy cut to `length` bytes. */
  truncated(length: number): Uint8Array {
    return this.bytes.slice(0, length);
  }

  private cString(offset: number): string {
    const end = this.bytes.indexOf(0, offset);
    return new TextDecoder().decode(this.bytes.subarray(offset, end < 0 ? this.bytes.length : end));
  }
}

export function patch(original: Uint8Array): ElfPatch {
  return new ElfPatch(original);
}
