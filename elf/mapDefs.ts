import type { ElfFile, ElfSection, ElfSymbol } from './elfFile.js';
import { SHT_NOBITS, STT_NOTYPE, STT_OBJECT, STB_LOCAL } from './elfFile.js';
import { ElfError } from './errors.js';
import type { MapSpec, MapDef, TcMapFields, MapConvention, MapsSectionInfo } from './types.js';

export const SAMPLES_DEF_SIZE = 28;
export const TC_DEF_SIZE = 36;
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
): { maps: MapSpec[]; section: MapsSectionInfo | undefined } {
  const candidates = elf.sections.filter((s) => s.name === MAPS_SECTION);
  const section = candidates[0];
  if (!section) return { maps: [], section: undefined };
  const context = { file, section: MAPS_SECTION };
  if (candidates.length > 1) {
    // relocations name maps by offset in one section: which one would be a guess
    const indices = candidates.map((s) => s.index).join(', ');
    throw new ElfError(`object has ${candidates.length} sections named '${MAPS_SECTION}' (sections ${indices}), expected one`, context);
  }

  const symbols = elf.symbols
    .filter((s) => s.shndx === section.index && s.name !== '' && (s.type === STT_OBJECT || s.type === STT_NOTYPE))
    .sort((a, b) => a.value - b.value || a.index - b.index);

  if (symbols.length === 0) {
    if (section.size === 0) return { maps: [], section: { index: section.index, size: 0, defSize: 0 } };
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
  checkDefSize(defSize, convention, context);

  const data = sectionBytes(section, defSize);
  const maps: MapSpec[] = [];
  let previous: ElfSymbol | undefined;
  for (const [index, symbol] of symbols.entries()) {
    const mapContext = { ...context, map: symbol.name };
    if (previous && previous.value === symbol.value) {
      throw new ElfError(`map symbols '${previous.name}' and '${symbol.name}' share offset ${symbol.value}`, context);
    }
    if (symbol.value % defSize !== 0 || symbol.value + defSize > section.size) {
      throw new ElfError(
        `definition at offset ${symbol.value} does not fit the ${defSize}-byte slots of a ${section.size}-byte section`,
        mapContext,
      );
    }
    if (symbol.size !== 0 && symbol.size !== defSize) {
      throw new ElfError(
        `symbol is ${symbol.size} bytes, but the section's ${section.size} bytes over ${symbols.length} maps ` +
          `give ${defSize} bytes per map: every map in one section must use the same struct`,
        mapContext,
      );
    }
    const bytes = section.type === SHT_NOBITS ? data : data.subarray(symbol.value, symbol.value + defSize);
    const decoded = convention === 'tc' ? decodeTcDef(bytes, elf.littleEndian) : decodeSamplesDef(bytes, elf.littleEndian);
    if (convention === 'samples') checkZeroTail(bytes, symbol.value, mapContext);
    maps.push({
      index,
      name: symbol.name,
      offset: symbol.value,
      defSize,
      ...decoded,
      isStatic: symbol.bind === STB_LOCAL,
    });
    previous = symbol;
  }
  return { maps, section: { index: section.index, size: section.size, defSize } };
}

/**
 * When every symbol says its definition is S bytes and the section holds more
 * S-byte slots than there are symbols, some maps lost their symbol (strip
 * --strip-unneeded drops the local symbols of static maps). Dividing the
 * section by the symbols left would misread every definition: say what happened.
 */
function checkUnnamedDefinitions(symbols: ElfSymbol[], sectionSize: number, context: { file: string; section: string }): void {
  const size = symbols[0]!.size;
  if (size === 0 || sectionSize % size !== 0 || symbols.some((s) => s.size !== size)) return;
  const slots = sectionSize / size;
  if (slots <= symbols.length) return;
  throw new ElfError(
    `section holds ${slots} definitions of ${size} bytes but only ${symbols.length} map symbols: ` +
      `${slots - symbols.length} map(s) have no symbol, so no name (was the object stripped? static maps ` +
      `have local symbols, which strip --strip-unneeded removes)`,
    context,
  );
}

function checkDefSize(defSize: number, convention: MapConvention, context: { file: string; section: string }): void {
  if (defSize < MIN_DEF_SIZE) {
    throw new ElfError(
      `map definitions are ${defSize} bytes; at least ${MIN_DEF_SIZE} are needed (type, key_size, value_size, max_entries)`,
      context,
    );
  }
  if (defSize % 4 !== 0) {
    throw new ElfError(`map definitions are ${defSize} bytes, not a whole number of 4-byte fields`, context);
  }
  if (convention === 'tc' && defSize > TC_DEF_SIZE) {
    throw new ElfError(
      `map definitions are ${defSize} bytes, larger than struct bpf_elf_map (${TC_DEF_SIZE}): ` +
        `an object from a newer iproute2?`,
      context,
    );
  }
}

/**
 * A maps section of all-zero definitions may be emitted as NOBITS. Its size is
 * not backed by the file, so one zero definition (at most as long as the
 * fields any convention reads) stands for all of them instead of allocating
 * whatever size the header claims.
 */
function sectionBytes(section: ElfSection, defSize: number): Uint8Array {
  return section.type === SHT_NOBITS ? new Uint8Array(Math.min(defSize, TC_DEF_SIZE)) : section.data;
}

/** Reads `count` u32 fields, zero-filling those a shorter definition lacks (bpf_load.c's backward compatibility). */
function readFields(bytes: Uint8Array, count: number, littleEndian: boolean): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: number[] = [];
  for (let i = 0; i < count; i++) fields.push(i * 4 + 4 <= bytes.byteLength ? view.getUint32(i * 4, littleEndian) : 0);
  return fields;
}

export function decodeSamplesDef(bytes: Uint8Array, littleEndian: boolean): { def: MapDef } {
  const [type, key_size, value_size, max_entries, map_flags, inner_map_idx, numa_node] = readFields(bytes, 7, littleEndian);
  return { def: { type: type!, key_size: key_size!, value_size: value_size!, max_entries: max_entries!, map_flags: map_flags!, inner_map_idx: inner_map_idx!, numa_node: numa_node! } };
}

export function decodeTcDef(bytes: Uint8Array, littleEndian: boolean): { def: MapDef; tc: TcMapFields } {
  const [type, key_size, value_size, max_entries, map_flags, id, pinning, inner_id, inner_idx] = readFields(bytes, 9, littleEndian);
  return {
    // inner_map_idx is resolved from inner_id by the loader: tc names templates by id, not position
    def: { type: type!, key_size: key_size!, value_size: value_size!, max_entries: max_entries!, map_flags: map_flags!, inner_map_idx: 0, numa_node: 0 },
    tc: { id: id!, pinning: pinning!, inner_id: inner_id!, inner_idx: inner_idx! },
  };
}

/** bpf_load.c's forward compatibility: a longer definition loads only if the loader ignores nothing it was told. */
function checkZeroTail(bytes: Uint8Array, offset: number, context: { file: string; section: string; map: string }): void {
  for (let i = SAMPLES_DEF_SIZE; i < bytes.byteLength; i++) {
    if (bytes[i] !== 0) {
      throw new ElfError(
        `definition is ${bytes.byteLength} bytes and byte ${i} (section offset ${offset + i}) past the ` +
          `${SAMPLES_DEF_SIZE} known bytes is 0x${bytes[i]!.toString(16).padStart(2, '0')}, not zero: this loader ` +
          `does not know what it means (an iproute2 struct bpf_elf_map? try the tc convention)`,
        context,
      );
    }
  }
}
