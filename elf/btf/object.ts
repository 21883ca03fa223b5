import { STB_GLOBAL, STB_WEAK, STT_FUNC, STT_OBJECT, sectionNamed, type ElfFile } from '../elfFile.js';
import { parseBtf, type Btf } from './btf.js';
import { dataSections, type DataSection, type SymbolOffsets } from './datasec.js';
import { BtfError } from './errors.js';
import { parseBtfExt, type BtfExt } from './ext.js';
import { fixupDatasecs } from './sanitize.js';
import type { BtfType } from './types.js';
import { MAPS_SECTION_BTF, btfMapDefinitions, type BtfMapDefinition, type MapsRelocation } from './maps.js';

export const BTF_SECTION = '.BTF';
export const BTF_EXT_SECTION = '.BTF.ext';

/** The object's `.BTF`, parsed; undefined for an object built without -g. */
export function objectBtf(elf: ElfFile, file?: string): Btf | undefined {
  const section = sectionNamed(elf, BTF_SECTION);
  if (!section) return undefined;
  return parseBtf(section.data, { section: BTF_SECTION, ...(file !== undefined && { file }) });
}

/** The object's `.BTF.ext` read against its `.BTF`; undefined when there is none. */
export function objectBtfExt(elf: ElfFile, btf: Btf, file?: string): BtfExt | undefined {
  const section = sectionNamed(elf, BTF_EXT_SECTION);
  if (!section) return undefined;
  return parseBtfExt(section.data, btf, file !== undefined ? { file } : {});
}

/**
 * Offsets of the object's global variables and maps from its symbol table
 * (STT_OBJECT, global or weak, by section and name): what clang leaves out of
 * the DATASECs and libbpf takes from the symbols.
 */
export function symbolOffsets(elf: ElfFile): SymbolOffsets {
  const bySection = new Map<string, Map<string, number>>();
  for (const symbol of elf.symbols) {
    if (symbol.type !== STT_OBJECT || (symbol.bind !== STB_GLOBAL && symbol.bind !== STB_WEAK)) continue;
    const section = elf.sections[symbol.shndx];
    if (!section) continue;
    let names = bySection.get(section.name);
    if (!names) bySection.set(section.name, (names = new Map()));
    names.set(symbol.name, symbol.value);
  }
  return (section, variable) => bySection.get(section)?.get(variable);
}

/** `.rel.maps`: the pointer slots of `.values` initializers and what each points to. */
export function mapsRelocations(elf: ElfFile, file?: string): MapsRelocation[] {
  const maps = sectionNamed(elf, MAPS_SECTION_BTF);
  const relocations = maps && elf.relocations.get(maps.index);
  if (!relocations) return [];
  return relocations.entries.map((entry) => {
    const symbol = elf.symbols[entry.symbolIndex];
    const target = symbol?.type === STT_FUNC ? 'program' : symbol?.shndx === maps!.index ? 'map' : undefined;
    if (!symbol || !target) {
      throw new BtfError(`the relocation at offset ${entry.offset} points to ${symbol ? `'${symbol.name}', neither a map in .maps nor a program` : `symbol ${entry.symbolIndex}, which does not exist`}`, {
        section: relocations.section.name, ...(file !== undefined && { file }),
      });
    }
    return { offset: entry.offset, symbol: symbol.name, target };
  });
}

/** The object's BTF-defined maps, with the symbol table's offsets and the `.values` initializers. */
export function objectBtfMaps(elf: ElfFile, btf: Btf, file?: string): BtfMapDefinition[] {
  return btfMapDefinitions(btf, { symbolOffset: symbolOffsets(elf), relocations: mapsRelocations(elf, file) });
}

/** The object's global-data sections and their variables, offsets from the symbol table. */
export function objectDataSections(elf: ElfFile, btf: Btf): DataSection[] {
  return dataSections(btf, symbolOffsets(elf));
}

/**
 * The object's BTF as libbpf hands it to the kernel: DATASEC sizes and global offsets from the ELF
 * (see fixupDatasecs), and hidden global functions made static.
 */
export function objectBtfFixedUp(elf: ElfFile, btf: Btf): BtfType[] {
  const types = fixupDatasecs(btf, {
    sectionSize: (name) => sectionNamed(elf, name)?.size,
    symbolOffset: symbolOffsets(elf),
  });
  return hiddenFunctionsStatic(elf, types);
}

const STV_INTERNAL = 1;
const STV_HIDDEN = 2;
const BTF_FUNC_STATIC = 0;
const BTF_FUNC_GLOBAL = 1;

/**
 * libbpf's mark_btf_static: a global function the object keeps to itself (hidden or internal
 * visibility, as `__hidden` declares, e.g. usdt.bpf.h's bpf_usdt_arg()) is static in the BTF the
 * kernel gets, so the verifier checks it in the context of its callers, not alone with arguments
 * it knows nothing of.
 */
function hiddenFunctionsStatic(elf: ElfFile, types: BtfType[]): BtfType[] {
  const hidden = new Set<string>();
  for (const symbol of elf.symbols) {
    if (symbol.type === STT_FUNC && (symbol.bind === STB_GLOBAL || symbol.bind === STB_WEAK) &&
        (symbol.visibility === STV_HIDDEN || symbol.visibility === STV_INTERNAL)) {
      hidden.add(symbol.name);
    }
  }
  if (hidden.size === 0) return types;
  return types.map((type) => (type.kind === 'FUNC' && type.linkage === BTF_FUNC_GLOBAL && hidden.has(type.name) ? { ...type, linkage: BTF_FUNC_STATIC } : type));
}
