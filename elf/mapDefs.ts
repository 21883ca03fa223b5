import type { ElfFile, ElfSection, ElfSymbol } from './elfFile.js';
import { SHT_NOBITS, STT_NOTYPE, STT_OBJECT, STB_LOCAL } from './elfFile.js';
import { ElfError } from './errors.js';
import { sortUnlessSorted } from './order.js';
import { TC_DEF_SIZE, tcFieldsSet, tcPinning } from './tcConvention.js';
import type { MapSpec, MapConvention } from './types.js';

export { TC_DEF_SIZE };
export const SAMPLES_DEF_SIZE = 28;
/** BPF_F_NUMA_NODE: numa_node means something only with this flag (bpf_load.c passed it only then) */
const BPF_F_NUMA_NODE = 1 << 2;
const MIN_DEF_SIZE = 16;

export const MAPS_SECTION = 'maps';

/**
 * The map definitions of the `maps` section, in offset order. One definition's
 * size is the section size over the number of map symbols, as in bpf_load.c;
 * unlike it, every symbol must sit on a definition boundary and agree with that
 * size, so a section mixing structs is refused instead of misread.
 */
export function readMapDefs(
  elf: ElfFile,
  file: string,
  convention: MapConvention,
): { maps: MapSpec[]; section: ElfSection | undefined } {
  let section: ElfSection | undefined;
  let count = 0;
  for (const s of elf.sections) {
    if (s.name !== MAPS_SECTION) continue;
    section ??= s;
    count++;
  }
  if (!section) return { maps: [], section: undefined };
  const context = { file, section: MAPS_SECTION };
  if (count > 1) {
    const candidates = elf.sections.filter((s) => s.name === MAPS_SECTION);
    // relocations name maps by offset in one section: which one would be a guess
    const indices = candidates.map((s) => s.index).join(', ');
    throw new ElfError(`object has ${candidates.length} sections named '${MAPS_SECTION}' (sections ${indices}), expected one`, context);
  }

  // a loop, not filter() with a closure: one function fewer entered per parse
  const mapSymbols: ElfSymbol[] = [];
  for (const s of elf.symbols) {
    if (s.shndx === section.index && s.name !== '' && (s.type === STT_OBJECT || s.type === STT_NOTYPE)) mapSymbols.push(s);
  }
  const symbols = sortUnlessSorted(mapSymbols, byOffsetThenIndex);

  if (symbols.length === 0) {
    if (section.size === 0) return { maps: [], section };
    throw new ElfError(`section has ${section.size} bytes but no map symbols`, context);
  }
  if (convention === 'tc') {
    // iproute2 counts only STB_GLOBAL map symbols: a static map throws its size arithmetic off
    const local = symbols.find((s) => s.bind === STB_LOCAL);
    if (local) {
      throw new ElfError(
        `map is static: tc (iproute2) takes only global map symbols and would not load this object; drop 'static'`,
        { ...context, map: local.name },
      );
    }
  }
  checkUnnamedDefinitions(symbols, section.size, context);
  if (section.size % symbols.length !== 0) {
    throw new ElfError(
      `section size ${section.size} is not a multiple of its ${symbols.length} map symbols: ` +
        `the definitions are not all the same struct`,
      context,
    );
  }
  const defSize = section.size / symbols.length;
  // the refusal is built apart (badDefSize), so that this check stays a few comparisons here
  if (defSize < MIN_DEF_SIZE || defSize % 4 !== 0 || (convention === 'tc' && defSize > TC_DEF_SIZE)) throw badDefSize(defSize, context);

  // a NOBITS maps section of all-zero definitions is not backed by the file: one zero definition
  // (at most as long as the fields any convention reads) stands for all of them instead of
  // allocating whatever size the header claims
  const data = section.type === SHT_NOBITS ? new Uint8Array(Math.min(defSize, TC_DEF_SIZE)) : section.data;
  // one view for every definition, and a map's error context made only for its error: an object
  // of a hundred maps is read on every load, and what each map allocated was most of the parse
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  // NOBITS (or a section whose type says it has no contents): every definition reads as zeros
  const nobits = data.byteLength < section.size;
  const definition = nobits ? { base: 0, size: data.byteLength } : { base: 0, size: defSize };
  const maps: MapSpec[] = [];
  let previous: ElfSymbol | undefined;
  for (const symbol of symbols) {
    if (previous && previous.value === symbol.value) {
      throw new ElfError(`map symbols '${previous.name}' and '${symbol.name}' share offset ${symbol.value}`, context);
    }
    if (symbol.value % defSize !== 0 || symbol.value + defSize > section.size) {
      throw new ElfError(
        `definition at offset ${symbol.value} does not fit the ${defSize}-byte slots of a ${section.size}-byte section`,
        { ...context, map: symbol.name },
      );
    }
    if (symbol.size !== 0 && symbol.size !== defSize) {
      throw new ElfError(
        `symbol is ${symbol.size} bytes, but the section's ${section.size} bytes over ${symbols.length} maps ` +
          `give ${defSize} bytes per map: every map in one section must use the same struct`,
        { ...context, map: symbol.name },
      );
    }
    if (!nobits) definition.base = symbol.value;
    if (convention === 'samples' && !nobits) {
      // only a 36-byte definition can be iproute2's: not entered for bpf_load.c's own struct
      if (defSize === TC_DEF_SIZE && tcFieldsSet(view, definition.base, defSize)) {
        throw new ElfError(
          `definition is ${TC_DEF_SIZE} bytes with fields set past the first five: iproute2's struct bpf_elf_map ` +
            `(id, pinning, inner_id, inner_idx), which the samples convention would misread (pinning as numa_node); ` +
            `load it with the tc convention (--convention tc, convention: 'tc')`,
          { ...context, map: symbol.name },
        );
      }
      // bpf_load.c's own struct has no tail: not entered for it
      if (defSize > SAMPLES_DEF_SIZE) checkZeroTail(data, symbol.value, defSize, context, symbol.name);
    }
    const isStatic = symbol.bind === STB_LOCAL;
    maps.push(
      convention === 'tc'
        ? decodeTcDef(symbol.name, view, definition, elf.littleEndian, symbol.value, defSize, isStatic)
        : decodeSamplesDef(symbol.name, view, definition, elf.littleEndian, symbol.value, defSize, isStatic),
    );
    previous = symbol;
  }
  return { maps, section };
}

function byOffsetThenIndex(a: ElfSymbol, b: ElfSymbol): number {
  return a.value - b.value || a.index - b.index;
}

/**
 * When every symbol says its definition is S bytes and the section holds more
 * S-byte slots than there are symbols, some maps lost their symbol (strip
 * --strip-unneeded drops the local symbols of static maps). Dividing the
 * section by the symbols left would misread every definition: say what happened.
 */
function checkUnnamedDefinitions(symbols: ElfSymbol[], sectionSize: number, context: { file: string; section: string }): void {
  const size = symbols[0]!.size;
  if (size === 0 || sectionSize % size !== 0) return;
  for (const symbol of symbols) if (symbol.size !== size) return;
  const slots = sectionSize / size;
  if (slots > symbols.length) throw unnamedDefinitions(slots, size, symbols.length, context);
}

/** The error checkUnnamedDefinitions() throws. */
function unnamedDefinitions(slots: number, size: number, named: number, context: { file: string; section: string }): ElfError {
  return new ElfError(
    `section holds ${slots} definitions of ${size} bytes but only ${named} map symbols: ` +
      `${slots - named} map(s) have no symbol, so no name (was the object stripped? static maps ` +
      `have local symbols, which strip --strip-unneeded removes)`,
    context,
  );
}

/** The error for a definition size readMapDefs() refuses, in the order it checks: too small, not whole fields, too large for tc. */
function badDefSize(defSize: number, context: { file: string; section: string }): ElfError {
  if (defSize < MIN_DEF_SIZE) {
    return new ElfError(
      `map definitions are ${defSize} bytes; at least ${MIN_DEF_SIZE} are needed (type, key_size, value_size, max_entries)`,
      context,
    );
  }
  if (defSize % 4 !== 0) return new ElfError(`map definitions are ${defSize} bytes, not a whole number of 4-byte fields`, context);
  return new ElfError(
    `map definitions are ${defSize} bytes, larger than struct bpf_elf_map (${TC_DEF_SIZE}): ` +
      `an object from a newer iproute2?`,
    context,
  );
}

/** Where one definition is in the section's view, and how many of its bytes there are to read. */
interface Definition {
  base: number;
  size: number;
}

/** u32 field `index` of a definition; one a shorter definition lacks reads 0 (bpf_load.c's backward compatibility). */
function field(view: DataView, at: Definition, index: number, littleEndian: boolean): number {
  return index * 4 + 4 <= at.size ? view.getUint32(at.base + index * 4, littleEndian) : 0;
}

function decodeSamplesDef(
  name: string, view: DataView, at: Definition, le: boolean, offset: number, defSize: number, isStatic: boolean,
): MapSpec {
  const flags = field(view, at, 4, le);
  // built field by field, not spread: this runs for every map of every object parsed
  const spec: MapSpec = {
    name,
    type: field(view, at, 0, le), keySize: field(view, at, 1, le), valueSize: field(view, at, 2, le),
    maxEntries: field(view, at, 3, le), flags,
    pinning: 'none',
    source: { kind: 'maps', section: MAPS_SECTION, offset, defSize, static: isStatic, raw: { innerMapIdx: field(view, at, 5, le) } },
  };
  if (flags & BPF_F_NUMA_NODE) spec.numaNode = field(view, at, 6, le);
  return spec;
}

function decodeTcDef(
  name: string, view: DataView, at: Definition, le: boolean, offset: number, defSize: number, isStatic: boolean,
): MapSpec {
  const tc = { id: field(view, at, 5, le), pinning: field(view, at, 6, le), innerId: field(view, at, 7, le), innerIdx: field(view, at, 8, le) };
  return {
    name,
    type: field(view, at, 0, le), keySize: field(view, at, 1, le), valueSize: field(view, at, 2, le),
    maxEntries: field(view, at, 3, le), flags: field(view, at, 4, le),
    pinning: tcPinning(tc.pinning),
    source: { kind: 'maps', section: MAPS_SECTION, offset, defSize, static: isStatic, raw: { tc } },
  };
}

/** bpf_load.c's forward compatibility: a longer definition loads only if the loader ignores nothing it was told. */
function checkZeroTail(data: Uint8Array, offset: number, defSize: number, context: { file: string; section: string }, map: string): void {
  for (let i = SAMPLES_DEF_SIZE; i < defSize; i++) {
    const byte = data[offset + i]!;
    if (byte !== 0) {
      throw new ElfError(
        `definition is ${defSize} bytes and byte ${i} (section offset ${offset + i}) past the ` +
          `${SAMPLES_DEF_SIZE} known bytes is 0x${byte.toString(16).padStart(2, '0')}, not zero: this loader ` +
          `does not know what it means (an iproute2 struct bpf_elf_map? try the tc convention)`,
        { ...context, map },
      );
    }
  }
}
