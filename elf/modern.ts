// libbpf-style objects (with `.BTF`): the maps of `.maps` and of the global-data sections, the
// variables of those sections, the object's BTF as the kernel takes it, and the resolver the
// linker asks about references into `.maps` and data sections — each named as libbpf names it.

import { SHF_ALLOC, SHF_EXECINSTR, SHT_NOBITS, SHT_PROGBITS, STT_FUNC, sectionNamed, type ElfFile, type ElfSection, type ElfSymbol } from './elfFile.js';
import { ElfError } from './errors.js';

const SHN_UNDEF = 0;
import { BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, BPF_MAP_TYPE } from '../uapi/bpf.js';
import {
  datasecs, objectBtfExt, objectBtfFixedUp, objectBtfMaps, objectDataSections, programExtInfo, skipModsAndTypedefs,
  type Btf, type BtfExt, type ProgramPart,
} from './btf/index.js';
import type { ExternsSpec, MapSpec, ProgramSpec, VariableSpec, VariableType } from './types.js';

/** BPF_OBJ_NAME_LEN - 1: what a kernel object name holds */
const OBJ_NAME_MAX = 15;

/** libbpf's obj->name: the file's base name up to its first dot (`globals.bpf.o` → `globals`). */
export function libbpfObjectName(file: string): string {
  const base = file.slice(file.lastIndexOf('/') + 1);
  const dot = base.indexOf('.');
  return dot < 0 ? base : base.slice(0, dot);
}

/**
 * libbpf's internal_map_name: `.data`, `.rodata`, `.bss` get the first characters of the object
 * name in front (`globals.rodata`, `ringbuf_.rodata`); a section with a dot of its own
 * (`.rodata.str1.1`, `.data.custom`) keeps its name. At most 15 characters, [A-Za-z0-9_.].
 */
export function dataMapName(objectName: string, section: string): string {
  const suffixLength = Math.max(7, section.length);
  const prefixLength = section.indexOf('.', 1) >= 0 ? 0 : Math.max(0, Math.min(OBJ_NAME_MAX - suffixLength, objectName.length));
  return (objectName.slice(0, prefixLength) + section).slice(0, OBJ_NAME_MAX).replace(/[^A-Za-z0-9_.]/g, '_');
}

/** The global-data sections libbpf makes maps of: `.data*`/`.rodata*` with bytes, `.bss*`. */
function isDataSection(section: ElfSection): boolean {
  if (!(section.flags & SHF_ALLOC) || section.flags & SHF_EXECINSTR) return false;
  if (section.type === SHT_PROGBITS) return section.size > 0 && /^\.(data|rodata)(\..+)?$/.test(section.name);
  return section.type === SHT_NOBITS && /^\.bss(\..+)?$/.test(section.name);
}

export interface ModernParts {
  maps: MapSpec[];
  variables: Record<string, VariableSpec>;
  btf: { types: ReturnType<typeof objectBtfFixedUp>; strings: Uint8Array };
  externs: ExternsSpec;
  ext: BtfExt | undefined;
  /** the linker's resolver: `.maps` symbols and data-section references, by map name */
  resolve: (symbol: ElfSymbol, imm: number) => { map: string; offset?: number } | undefined;
}

/** Where each function of `.text` starts, in instructions. */
export function textFunctionStarts(elf: ElfFile): (name: string) => number {
  const text = sectionNamed(elf, '.text');
  const starts = new Map<string, number>();
  for (const symbol of elf.symbols) if (text && symbol.shndx === text.index && symbol.type === STT_FUNC) starts.set(symbol.name, symbol.value / 8);
  return (name) => starts.get(name) ?? 0;
}

export function readModernParts(elf: ElfFile, btf: Btf, file: string): ModernParts {
  const objectName = libbpfObjectName(file);
  const maps: MapSpec[] = [];
  const btfMaps = objectBtfMaps(elf, btf, file);
  const mapsSection = sectionNamed(elf, '.maps');
  const btfMapByOffset = new Map<number, string>();
  for (const def of btfMaps) {
    maps.push(def.spec);
    btfMapByOffset.set(def.offset, def.spec.name);
  }
  const datasecIds = new Map([...datasecs(btf)].map(([name, d]) => [name, d.id]));
  const dataMapOf = new Map<number, string>();
  const kinds = new Map<string, 'data' | 'rodata' | 'bss'>();
  for (const section of elf.sections) {
    if (!isDataSection(section)) continue;
    const kind = /^\.(data|rodata|bss)/.exec(section.name)![1] as 'data' | 'rodata' | 'bss';
    const name = dataMapName(objectName, section.name);
    const valueTypeId = datasecIds.get(section.name) ?? 0;
    const initialValue = section.type === SHT_NOBITS ? new Uint8Array(section.size) : section.data.slice();
    maps.push({
      name, type: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: section.size, maxEntries: 1,
      flags: (kind === 'rodata' ? BPF_F_RDONLY_PROG : 0) | (mmapable(btf, valueTypeId) ? BPF_F_MMAPABLE : 0),
      pinning: 'none', btf: { keyTypeId: 0, valueTypeId }, initialValue, freeze: kind === 'rodata',
      source: { kind: 'data', section: section.name },
    });
    dataMapOf.set(section.index, name);
    kinds.set(section.name, kind);
  }
  const variables: Record<string, VariableSpec> = {};
  for (const data of objectDataSections(elf, btf)) {
    const section = sectionNamed(elf, data.name);
    const map = section && dataMapOf.get(section.index);
    if (map === undefined) continue;
    for (const variable of data.variables) {
      if (variable.linkage === 2 /* extern */) continue;
      variables[variable.name] = {
        name: variable.name, map, section: data.name, offset: variable.offset, size: variable.size, typeId: variable.typeId,
        type: variableType(btf, variable.typeId, variable.size), readOnly: kinds.get(data.name) === 'rodata',
      };
    }
  }
  const types = objectBtfFixedUp(elf, btf);
  // `.kconfig` externs live in a map the loader fills with the kernel's values (libbpf's `<obj>.kconfig`)
  const kconfigSec = types.find((t) => t.kind === 'DATASEC' && t.name === '.kconfig');
  const kconfigOffsets = new Map<string, number>();
  let kconfigMap: string | undefined;
  if (kconfigSec?.kind === 'DATASEC' && kconfigSec.size > 0) {
    kconfigMap = dataMapName(objectName, '.kconfig');
    for (const v of kconfigSec.vars) kconfigOffsets.set(btf.type(v.type).name, v.offset);
    maps.push({
      name: kconfigMap, type: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: kconfigSec.size, maxEntries: 1,
      flags: BPF_F_RDONLY_PROG | (mmapable(btf, kconfigSec.id) ? BPF_F_MMAPABLE : 0),
      pinning: 'none', btf: { keyTypeId: 0, valueTypeId: kconfigSec.id }, initialValue: new Uint8Array(kconfigSec.size), freeze: true,
      source: { kind: 'data', section: '.kconfig' },
    });
  }
  const resolve = (symbol: ElfSymbol, imm: number): { map: string; offset?: number } | undefined => {
    if (symbol.shndx === SHN_UNDEF && kconfigMap !== undefined) {
      const offset = kconfigOffsets.get(symbol.name);
      // libbpf writes the variable's offset, whatever the addend
      if (offset !== undefined) return { map: kconfigMap, offset };
      return undefined;
    }
    if (mapsSection && symbol.shndx === mapsSection.index) {
      const map = btfMapByOffset.get(symbol.value);
      if (map === undefined) {
        throw new ElfError(`'${symbol.name}' at offset ${symbol.value} of .maps is no map definition of the BTF`, { file, section: '.maps' });
      }
      return { map };
    }
    const map = dataMapOf.get(symbol.shndx);
    return map === undefined ? undefined : { map, offset: symbol.value + imm };
  };
  return {
    maps, variables, resolve,
    btf: { types, strings: btf.stringTable.slice() },
    externs: {
      symbols: elf.symbols.filter((sym) => sym.shndx === SHN_UNDEF && sym.name !== '' && sym.index !== 0),
      types: [...btf.ids()].map((id) => btf.type(id)),
    },
    ext: objectBtfExt(elf, btf, file),
  };
}

/**
 * libbpf 1.1's map_is_mmapable: a data map is mmapable when its DATASEC has a global variable
 * (one user space can reach by name); sections of statics and string literals are not.
 */
function mmapable(btf: Btf, datasecId: number): boolean {
  if (datasecId === 0) return false;
  const datasec = btf.type(datasecId);
  if (datasec.kind !== 'DATASEC') return false;
  return datasec.vars.some((v) => {
    const variable = btf.type(v.type);
    return variable.kind === 'VAR' && variable.linkage !== 0;
  });
}

/** How a variable's bytes read, from its BTF type. */
export function variableType(btf: Btf, typeId: number, size: number): VariableType {
  const type = btf.type(skipModsAndTypedefs(btf, typeId));
  if (type.kind === 'INT') {
    if (type.bool) return { kind: 'bool' };
    if ([1, 2, 4, 8].includes(type.size)) return { kind: 'int', size: type.size, signed: type.signed || type.char };
  }
  if (type.kind === 'ENUM' || type.kind === 'ENUM64') return { kind: 'int', size: type.size, signed: false };
  if (type.kind === 'ARRAY') {
    const element = btf.type(skipModsAndTypedefs(btf, type.type));
    if (element.kind === 'INT' && element.size === 1 && (element.char || element.signed || element.name.includes('char'))) {
      return { kind: 'chars', length: type.nelems };
    }
  }
  return { kind: 'bytes', size };
}

/** func_info and line_info of a program assembled from its section and the `.text` functions appended. */
export function programBtfExt(
  ext: BtfExt, program: Pick<ProgramSpec, 'section' | 'sectionInsnCount' | 'subprograms' | 'sectionStart'>, textStart: (name: string) => number,
): ProgramSpec['btfExt'] {
  const parts: ProgramPart[] = [
    { section: program.section, sectionOffset: program.sectionStart ?? 0, count: program.sectionInsnCount, landsAt: 0 },
    ...program.subprograms.map((s) => ({ section: '.text', sectionOffset: textStart(s.name), count: s.count, landsAt: s.insn })),
  ];
  const info = programExtInfo(ext, parts);
  return {
    funcInfo: info.funcInfo.map((f) => ({ insnOff: f.insnOff, typeId: f.typeId })),
    lineInfo: info.lineInfo.map((l) => ({ insnOff: l.insnOff, fileNameOff: l.fileNameOff, lineOff: l.lineOff, lineCol: ((l.line << 10) | (l.column & 0x3ff)) >>> 0 })),
    coreRelos: info.coreRelos.map((c) => ({ insnOff: c.insnOff, typeId: c.typeId, accessString: c.accessString, kind: c.kind })),
  };
}
