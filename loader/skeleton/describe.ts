// What a skeleton knows of an object, read from its bytes alone: the maps
// (and how each is typed), the global variables by section, the programs'
// names and the object's sha256. The generator writes it out as TypeScript;
// loadSkeleton reads it again from the loaded file and checks it matches.

import { createHash } from 'node:crypto';
import {
  objectBtf, objectBtfMaps, objectDataSections, type Btf, type BtfMapDefinition,
} from '../../elf/btf/index.js';
import { SHF_EXECINSTR, STB_GLOBAL, STT_FUNC, readElf, type ElfFile } from '../../elf/elfFile.js';
import { readMapDefs } from '../../elf/mapDefs.js';
import { BTF_VAR_STATIC } from '../../uapi/btf.js';
import { BPF_MAP_TYPE, isMapInMapType, isPerCpuMapType } from '../../syscall/uapi.js';

/** How the skeleton gives a map: decoded by its BTF key/value types, per-CPU decoded, or raw bytes (BpfMap). */
export type SkeletonMapKind = 'typed' | 'perCpu' | 'raw';

export interface SkeletonMapInfo {
  name: string;
  type: number;
  kind: SkeletonMapKind;
  keySize: number;
  valueSize: number;
  /** BTF type ids of key and value (0: none); set when kind is not 'raw' */
  keyTypeId: number;
  valueTypeId: number;
}

export interface SkeletonVariableInfo {
  name: string;
  /** the ELF section (.data, .rodata, .bss, .data.NAME, …) */
  section: string;
  typeId: number;
  offset: number;
  size: number;
}

export interface ObjectDescription {
  sha256: string;
  btf: Btf | undefined;
  maps: SkeletonMapInfo[];
  variables: SkeletonVariableInfo[];
  programs: string[];
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Map types whose keys and values are data a program reads and writes (not fds, not a stream). */
function isDataMap(type: number): boolean {
  return !isMapInMapType(type) && type !== BPF_MAP_TYPE.PROG_ARRAY && type !== BPF_MAP_TYPE.PERF_EVENT_ARRAY &&
    type !== BPF_MAP_TYPE.RINGBUF && type !== BPF_MAP_TYPE.STACK_TRACE;
}

function btfMap({ spec: map }: BtfMapDefinition): SkeletonMapInfo {
  const { keyTypeId, valueTypeId } = map.btf!;
  const typed = keyTypeId !== 0 && valueTypeId !== 0 && isDataMap(map.type);
  return {
    name: map.name, type: map.type, keySize: map.keySize, valueSize: map.valueSize,
    kind: !typed ? 'raw' : isPerCpuMapType(map.type) ? 'perCpu' : 'typed',
    keyTypeId: typed ? keyTypeId : 0, valueTypeId: typed ? valueTypeId : 0,
  };
}

/** Programs by name: the global functions of every executable section but .text (libbpf's rule), else the section's name. */
function programNames(elf: ElfFile): string[] {
  const names: string[] = [];
  for (const section of elf.sections) {
    if (!(section.flags & SHF_EXECINSTR) || section.name === '.text' || section.size === 0) continue;
    const functions = elf.symbols.filter((s) => s.shndx === section.index && s.type === STT_FUNC && s.bind === STB_GLOBAL);
    if (functions.length === 0) names.push(section.name);
    else names.push(...functions.map((s) => s.name));
  }
  return names;
}

function legacyMaps(elf: ElfFile, file: string): ReturnType<typeof readMapDefs>['maps'] {
  try {
    return readMapDefs(elf, file, 'samples').maps;
  } catch (samplesError) {
    try {
      return readMapDefs(elf, file, 'tc').maps;
    } catch {
      throw samplesError;
    }
  }
}

/** Everything a skeleton says of the object whose bytes these are. */
export function describeObject(bytes: Uint8Array, file = 'object'): ObjectDescription {
  const elf = readElf(bytes, file);
  const btf = objectBtf(elf, file);
  const maps: SkeletonMapInfo[] = [];
  // legacy `struct bpf_map_def SEC("maps")`: sizes only, no BTF types; tc's larger definitions when the samples' do not fit
  for (const map of legacyMaps(elf, file)) {
    maps.push({ name: map.name, type: map.type, kind: 'raw', keySize: map.keySize, valueSize: map.valueSize, keyTypeId: 0, valueTypeId: 0 });
  }
  const variables: SkeletonVariableInfo[] = [];
  if (btf) {
    maps.push(...objectBtfMaps(elf, btf, file).map(btfMap));
    for (const section of objectDataSections(elf, btf)) {
      for (const v of section.variables) {
        // static variables (bpf_printk's format strings among them) are the object's own, as in
        // bpftool's skeletons: only globals are given by name
        if (v.linkage === BTF_VAR_STATIC) continue;
        variables.push({ name: v.name, section: section.name, typeId: v.typeId, offset: v.offset, size: v.size });
      }
    }
  }
  return { sha256: sha256(bytes), btf, maps, variables, programs: programNames(elf) };
}
