import type { ElfFile, ElfRelocation, ElfSection, ElfSymbol } from './elfFile.js';
import { SHN_LORESERVE, SHN_UNDEF, SHT_PROGBITS, STT_FUNC, STT_SECTION } from './elfFile.js';
import { ElfError, type ElfErrorContext } from './errors.js';
import { sortUnlessSorted } from './order.js';
import {
  BPF_CALL, BPF_LD_IMM64, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, INSN_SIZE, R_BPF_64_32, R_BPF_64_64, insnAt, relocationTypeName, setImm, setSrcReg,
  type Insn,
} from './instructions.js';
import type { ProgramSpec, ProgramRelocation } from './types.js';

/** A function of `.text`, as an instruction range. */
interface TextFunction {
  name: string;
  start: number;
  end: number;
}

/** A run of instructions copied into the program: its own section, or one `.text` function. */
interface Chunk {
  section: ElfSection;
  /** first instruction of the chunk inside its section */
  sectionStart: number;
  count: number;
  /** where the chunk starts in the linked program */
  linkedStart: number;
}

const NO_ENTRIES: readonly ElfRelocation[] = [];

const byInsn = (a: ProgramRelocation, b: ProgramRelocation): number => a.insn - b.insn;
const bySectionInsn = (a: IndexedRelocation, b: IndexedRelocation): number => a.sectionInsn - b.sectionInsn || a.entryIndex - b.entryIndex;
const byValue = (a: ElfSymbol, b: ElfSymbol): number => a.value - b.value;

type Linked = Pick<ProgramSpec, 'insns' | 'relocations' | 'subprograms'>;

interface IndexedRelocation {
  sectionInsn: number;
  entry: ElfRelocation;
  entryIndex: number;
}

/** First index whose key is >= `key` in an array sorted by key. */
function lowerBound<T>(sorted: readonly T[], key: number, keyOf: (item: T) => number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (keyOf(sorted[mid]!) < key) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** lowerBound() of relocations by instruction, with the key read in place: no closure made and entered per chunk. */
function firstRelocationAt(indexed: readonly IndexedRelocation[], insn: number): number {
  let low = 0;
  let high = indexed.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (indexed[mid]!.sectionInsn < insn) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * Builds one program's instructions: its section, then every `.text` function
 * it reaches through calls (transitively), like libbpf appends subprograms.
 * Map references are checked and resolved to map indexes; calls are pointed
 * at where their callee landed. Everything that cannot be resolved is an
 * ElfError naming the section, the instruction and the relocation type.
 */
export class Linker {
  readonly #text: ElfSection | undefined;
  #textFunctions: TextFunction[] | undefined;
  readonly #relocationIndex = new Map<number, IndexedRelocation[]>();

  constructor(
    private readonly elf: ElfFile,
    private readonly file: string,
    /** map names by the offset of their definition in the `maps` section */
    private readonly mapsByOffset: ReadonlyMap<number, string>,
    private readonly mapsSection: ElfSection | undefined,
    /** BTF objects: references into `.maps` and global-data sections, as a map name (and an offset into its value) */
    private readonly dataResolver?: (symbol: ElfSymbol, imm: number) => { map: string; offset?: number } | undefined,
    /**
     * libbpf's layout: a function is appended when first reached in instruction order, and what
     * it reaches right after it (depth first); otherwise the samples-era breadth-first layout
     */
    private readonly libbpfOrder = false,
  ) {
    // a loop, not find() with a closure: every parse makes a Linker
    for (const s of elf.sections) {
      if (s.name === '.text' && s.type === SHT_PROGBITS) {
        this.#text = s;
        break;
      }
    }
  }

  link(section: ElfSection, program: string, start = 0, count = section.size / INSN_SIZE): Linked {
    const root: Chunk = { section, sectionStart: start, count, linkedStart: 0 };
    const chunks: Chunk[] = [root];
    const included = new Map<TextFunction, Chunk>();
    const subprograms: ProgramSpec['subprograms'] = [];
    const relocations: ProgramRelocation[] = [];
    let total = root.count;
    // libbpf's order: a function is appended when first reached, and what it reaches comes right after it
    const include = (fn: TextFunction): Chunk => {
      let chunk = included.get(fn);
      if (!chunk) {
        chunk = { section: this.#text!, sectionStart: fn.start, count: fn.end - fn.start, linkedStart: total };
        total += chunk.count;
        included.set(fn, chunk);
        chunks.push(chunk);
        subprograms.push({ name: fn.name, insn: chunk.linkedStart, count: chunk.count });
        if (this.libbpfOrder) walk(chunk);
      }
      return chunk;
    };
    const walk = (chunk: Chunk): void => {
      const context: ElfErrorContext = { file: this.file, section: chunk.section.name, program };
      // the chunk's entries sorted by instruction: [first, end) of the section's index; of several
      // entries for one instruction the first counts
      const indexed = this.relocationIndex(chunk.section, context);
      const first = firstRelocationAt(indexed, chunk.sectionStart);
      const chunkEnd = chunk.sectionStart + chunk.count;
      const end = firstRelocationAt(indexed, chunkEnd);
      if (!this.libbpfOrder) {
        // the samples-era order: every relocation of a chunk first, then the calls the compiler resolved
        for (let r = first; r < end; r++) {
          const each = indexed[r]!;
          if (r > first && indexed[r - 1]!.sectionInsn === each.sectionInsn) continue;
          relocations.push(this.relocation(chunk, section, each.sectionInsn, each.entry, each.entryIndex, include, context));
        }
      }
      let next = first;
      const data = chunk.section.data;
      for (let i = chunk.sectionStart; i < chunkEnd; i++) {
        if (next < end && indexed[next]!.sectionInsn === i) {
          const each = indexed[next]!;
          while (next < end && indexed[next]!.sectionInsn === i) next++;
          if (this.libbpfOrder) relocations.push(this.relocation(chunk, section, i, each.entry, each.entryIndex, include, context));
          continue;
        }
        // calls the compiler resolved itself (no relocation) are relative to the chunk's own section
        // most instructions are no call: their opcode byte says so without decoding the rest
        if (data[i * INSN_SIZE] !== BPF_CALL) continue;
        const insn = insnAt(data, i, this.elf.littleEndian);
        if (insn.src !== BPF_PSEUDO_CALL) continue;
        const target = i + insn.imm + 1;
        const callee = this.resolveCall(chunk, section, chunk.section, target, include, () => `insn ${i}: bpf-to-bpf call to insn ${target}`, context);
        relocations.push({
          kind: 'call',
          insn: chunk.linkedStart + i - chunk.sectionStart,
          sourceSection: chunk.section.name,
          sourceInsn: i,
          relocationType: 'none',
          symbol: `${chunk.section.name}+${target * INSN_SIZE}`,
          target: callee.target,
          targetInsn: callee.targetInsn,
        });
      }
    };
    walk(root);
    // the samples-era order: functions appended breadth first
    if (!this.libbpfOrder) for (let c = 1; c < chunks.length; c++) walk(chunks[c]!);

    let insns: Uint8Array;
    if (chunks.length === 1) {
      // most programs call nothing: their instructions are one copy of their range
      insns = section.data.slice(root.sectionStart * INSN_SIZE, (root.sectionStart + root.count) * INSN_SIZE);
    } else {
      insns = new Uint8Array(total * INSN_SIZE);
      for (const chunk of chunks) {
        const start = chunk.sectionStart * INSN_SIZE;
        insns.set(chunk.section.data.subarray(start, start + chunk.count * INSN_SIZE), chunk.linkedStart * INSN_SIZE);
      }
    }
    // every call and function address, relocated or not, now points at where its callee landed
    for (const call of relocations) {
      if (call.kind === 'call') setImm(insns, call.insn, call.targetInsn - (call.insn + 1), this.elf.littleEndian);
      if (call.kind === 'func') {
        setSrcReg(insns, call.insn, BPF_PSEUDO_FUNC, this.elf.littleEndian);
        setImm(insns, call.insn, call.targetInsn - (call.insn + 1), this.elf.littleEndian);
        setImm(insns, call.insn + 1, 0, this.elf.littleEndian);
      }
    }
    sortUnlessSorted(relocations, byInsn);
    return { insns, relocations, subprograms };
  }

  /**
   * The section's relocation entries, checked and sorted by instruction once,
   * so a `.text` function pulled into many programs costs a binary search, not
   * a walk of every entry.
   */
  private relocationIndex(section: ElfSection, context: ElfErrorContext): IndexedRelocation[] {
    let indexed = this.#relocationIndex.get(section.index);
    if (!indexed) {
      const entries = this.elf.relocations.get(section.index)?.entries ?? NO_ENTRIES;
      indexed = [];
      for (let entryIndex = 0; entryIndex < entries.length; entryIndex++) {
        const entry = entries[entryIndex]!;
        const sectionInsn = this.relocatedInsn(section, entry, entryIndex, context);
        indexed.push({ sectionInsn, entry, entryIndex });
      }
      sortUnlessSorted(indexed, bySectionInsn);
      this.#relocationIndex.set(section.index, indexed);
    }
    return indexed;
  }

  /** The instruction a relocation entry patches, checked against the section. */
  private relocatedInsn(section: ElfSection, entry: ElfRelocation, entryIndex: number, context: ElfErrorContext): number {
    const what = (): string => `relocation ${entryIndex} (${relocationTypeName(entry.type)})`;
    if (entry.offset % INSN_SIZE !== 0) {
      throw new ElfError(`${what()}: offset ${entry.offset} is not on an instruction boundary`, context);
    }
    const sectionInsn = entry.offset / INSN_SIZE;
    const count = section.size / INSN_SIZE;
    if (sectionInsn >= count) {
      throw new ElfError(`${what()}: insn ${sectionInsn} is past the end of the section (${count} instructions)`, context);
    }
    return sectionInsn;
  }

  private relocation(
    chunk: Chunk,
    programSection: ElfSection,
    sectionInsn: number,
    entry: ElfRelocation,
    entryIndex: number,
    include: (fn: TextFunction) => Chunk,
    context: ElfErrorContext,
  ): ProgramRelocation {
    const symbol = this.elf.symbols[entry.symbolIndex]!;
    const insn = insnAt(chunk.section.data, sectionInsn, this.elf.littleEndian);
    const type = relocationTypeName(entry.type);
    const label = this.relocationLabel(symbol, entry.type, insn);
    // built only for a message: a load reads every relocation, and formatting each one cost more than the checks
    const where = (): string => `insn ${sectionInsn}: relocation ${entryIndex} (${type}) against '${label}'`;
    // each kind's object is written out whole, in the spec's key order: a spread of a shared
    // part would make every relocation two objects and a copy
    const linkedInsn = chunk.linkedStart + sectionInsn - chunk.sectionStart;
    const sourceSection = chunk.section.name;
    if (this.libbpfOrder && symbol.index !== 0 && symbol.shndx === SHN_UNDEF && symbol.name !== '') {
      // an extern: a .kconfig variable is a map value, a ksym or kfunc is the loader's to resolve
      const data = entry.type === R_BPF_64_64 && insn.code === BPF_LD_IMM64 ? this.dataResolver?.(symbol, insn.imm) : undefined;
      if (data) return { kind: 'map', insn: linkedInsn, sourceSection, sourceInsn: sectionInsn, relocationType: type, symbol: label, ...data };
      const call = insn.code === BPF_CALL;
      if ((entry.type === R_BPF_64_64 && insn.code === BPF_LD_IMM64) || (entry.type === R_BPF_64_32 && call)) {
        return { kind: 'extern', insn: linkedInsn, sourceSection, sourceInsn: sectionInsn, relocationType: type, symbol: label, name: symbol.name, call };
      }
    }
    // the refusal is built apart: a defined symbol enters no function here
    if (symbol.index === 0 || symbol.shndx === SHN_UNDEF || symbol.shndx >= SHN_LORESERVE) throw undefinedSymbol(symbol, where, context);

    if (entry.type === R_BPF_64_64) {
      if (insn.code !== BPF_LD_IMM64) {
        throw new ElfError(
          `${where()}: instruction has code 0x${insn.code.toString(16)}, not an LD_IMM64 (0x18): cannot hold a map reference`,
          context,
        );
      }
      if (sectionInsn + 1 >= chunk.sectionStart + chunk.count) {
        throw new ElfError(`${where()}: LD_IMM64 has no second half inside the function`, context);
      }
      const targetSection = this.elf.sections[symbol.shndx]!;
      if (this.#text && targetSection.index === this.#text.index) {
        // a function's address (a callback): libbpf's RELO_SUBPROG_ADDR
        const byte = symbol.value + insn.imm;
        if (byte % INSN_SIZE !== 0) throw new ElfError(`${where()}: function address ${byte} is not on an instruction boundary`, context);
        const resolved = this.resolveCall(chunk, programSection, targetSection, byte / INSN_SIZE, include, where, context);
        return {
          kind: 'func', insn: linkedInsn, sourceSection, sourceInsn: sectionInsn, relocationType: type, symbol: label,
          target: resolved.target, targetInsn: resolved.targetInsn,
        };
      }
      const data = this.dataResolver?.(symbol, insn.imm);
      if (data) return { kind: 'map', insn: linkedInsn, sourceSection, sourceInsn: sectionInsn, relocationType: type, symbol: label, ...data };
      const map = this.resolveMap(symbol, insn.imm, where, context);
      return { kind: 'map', insn: linkedInsn, sourceSection, sourceInsn: sectionInsn, relocationType: type, symbol: label, map };
    }
    if (entry.type === R_BPF_64_32) {
      if (insn.code !== BPF_CALL || insn.src !== BPF_PSEUDO_CALL) {
        throw new ElfError(
          `${where()}: instruction has code 0x${insn.code.toString(16)} src_reg ${insn.src}, not a bpf-to-bpf call (0x85, src_reg 1)`,
          context,
        );
      }
      // the callee is st_value/8 + imm + 1 instructions into the symbol's section
      const target = symbol.value / INSN_SIZE + insn.imm + 1;
      const targetSection = this.elf.sections[symbol.shndx]!;
      const resolved = this.resolveCall(chunk, programSection, targetSection, target, include, where, context);
      return {
        kind: 'call', insn: linkedInsn, sourceSection, sourceInsn: sectionInsn, relocationType: type, symbol: label,
        target: resolved.target, targetInsn: resolved.targetInsn,
      };
    }
    throw new ElfError(
      `${where()}: only R_BPF_64_64 (map references) and R_BPF_64_32 (calls to .text) are supported in program sections`,
      context,
    );
  }

  private resolveCall(
    chunk: Chunk,
    programSection: ElfSection,
    targetSection: ElfSection,
    target: number,
    include: (fn: TextFunction) => Chunk,
    where: () => string,
    context: ElfErrorContext,
  ): { target: string; targetInsn: number } {
    if (targetSection.index === programSection.index && chunk.section.index === programSection.index) {
      const local = target - chunk.sectionStart;
      if (!Number.isInteger(target) || local < 0 || local >= chunk.count) {
        throw new ElfError(`${where()}: target insn ${target} is outside the program (${chunk.count} instructions)`, context);
      }
      return { target: `${programSection.name}+${target * INSN_SIZE}`, targetInsn: local };
    }
    if (targetSection.index === this.#text?.index) {
      const functions = this.textFunctions(context);
      const fn = functions[lowerBound(functions, target + 1, (f) => f.start) - 1];
      if (!fn || target >= fn.end || !Number.isInteger(target)) {
        throw new ElfError(`${where()}: target insn ${target} of .text is not inside any function symbol`, context);
      }
      return { target: fn.name, targetInsn: include(fn).linkedStart + target - fn.start };
    }
    throw new ElfError(
      `${where()}: calls into section '${targetSection.name}'; only functions in .text (or the program's own section) can be called`,
      context,
    );
  }

  private textFunctions(context: ElfErrorContext): TextFunction[] {
    if (this.#textFunctions) return this.#textFunctions;
    const text = this.#text!;
    const textContext = { ...context, section: '.text' };
    if (text.size % INSN_SIZE !== 0) {
      throw new ElfError(`size ${text.size} is not a whole number of ${INSN_SIZE}-byte instructions`, textContext);
    }
    const count = text.size / INSN_SIZE;
    const symbols = sortUnlessSorted(this.elf.symbols.filter((s) => s.shndx === text.index && s.type === STT_FUNC), byValue);
    const functions: TextFunction[] = [];
    for (const [i, symbol] of symbols.entries()) {
      const start = symbol.value / INSN_SIZE;
      const next = symbols[i + 1];
      const end = symbol.size > 0 ? (symbol.value + symbol.size) / INSN_SIZE : next ? next.value / INSN_SIZE : count;
      if (!Number.isInteger(start) || !Number.isInteger(end) || start >= end || end > count) {
        throw new ElfError(
          `function '${symbol.name}' at offset ${symbol.value} (${symbol.size} bytes) does not fit .text (${text.size} bytes)`,
          textContext,
        );
      }
      functions.push({ name: symbol.name, start, end });
    }
    this.#textFunctions = functions;
    return functions;
  }

  private resolveMap(
    symbol: ElfSymbol,
    imm: number,
    where: () => string,
    context: ElfErrorContext,
  ): string {
    if (!this.mapsSection || symbol.shndx !== this.mapsSection.index) {
      throw new ElfError(
        `${where()}: symbol is in section '${this.elf.sections[symbol.shndx]!.name}', not 'maps': only maps defined in ` +
          `the 'maps' section can be referenced (global data and function pointers are not part of the samples/bpf convention)`,
        context,
      );
    }
    // a section symbol (static map) carries the map's offset in imm; a map symbol has it as st_value
    const offset = symbol.value + imm;
    const map = this.mapsByOffset.get(offset);
    if (map === undefined) {
      throw new ElfError(
        `${where()}: offset ${offset} in 'maps' is not the start of a map definition ` +
          `(maps at ${[...this.mapsByOffset.keys()].join(', ') || 'none'})`,
        context,
      );
    }
    return map;
  }

  /**
   * How a relocation's symbol reads in messages. REL has implicit addends: a
   * section symbol's map offset sits in imm, and a call's imm counts
   * instructions from the next one.
   */
  private relocationLabel(symbol: ElfSymbol, type: number, insn: Insn): string {
    if (symbol.index === 0) return '(symbol 0)';
    if (symbol.type !== STT_SECTION && symbol.name !== '') return symbol.name;
    const section = this.elf.sections[symbol.shndx]?.name ?? `section ${symbol.shndx}`;
    if (type === R_BPF_64_32) return `${section}+${symbol.value + (insn.imm + 1) * INSN_SIZE}`;
    return `${section}+${symbol.value + (type === R_BPF_64_64 ? insn.imm : 0)}`;
  }
}

/** The error for a relocation's symbol that is in no section of this object. */
function undefinedSymbol(symbol: ElfSymbol, where: () => string, context: ElfErrorContext): ElfError {
  if (symbol.index === 0 || symbol.shndx === SHN_UNDEF) {
    return new ElfError(`${where()}: the symbol is not defined in this object (an extern, or a map defined elsewhere?)`, context);
  }
  return new ElfError(
    `${where()}: the symbol is absolute or common (st_shndx 0x${symbol.shndx.toString(16)}), not in a section`,
    context,
  );
}
