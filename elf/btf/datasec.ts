// DATASEC and VAR: the object's sections of variables (.data, .rodata, .bss,
// their .data.* / .rodata.* / .bss.* kin, .maps) as BTF describes them. clang
// leaves the size of each DATASEC and the offsets of global variables 0 (the
// ELF symbols have them); everything here takes the symbols' offsets when given.

import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import type { BtfDatasec, BtfVar } from './types.js';

/** Where the ELF symbol table puts a variable: its offset in its section, or undefined when it has none. */
export type SymbolOffsets = (section: string, variable: string) => number | undefined;

export interface DatasecVariable {
  name: string;
  /** the VAR's id */
  varId: number;
  /** the variable's type (what the VAR points to) */
  typeId: number;
  /** byte offset in the section */
  offset: number;
  size: number;
  /** BTF_VAR_STATIC, _GLOBAL_ALLOCATED, _GLOBAL_EXTERN */
  linkage: number;
}

/** The variables of a DATASEC, in offset order, each offset from the symbol table when it has one. */
export function datasecVariables(btf: Btf, datasec: BtfDatasec, symbolOffset?: SymbolOffsets): DatasecVariable[] {
  const variables = datasec.vars.map((secinfo, index): DatasecVariable => {
    const variable = btf.type(secinfo.type);
    if (variable.kind !== 'VAR') {
      throw new BtfError(`DATASEC '${datasec.name}' entry ${index} is ${variable.kind} [${variable.id}], not a VAR`, {
        ...btf.context, typeId: datasec.id,
      });
    }
    return {
      name: variable.name, varId: variable.id, typeId: variable.type,
      offset: offsetOf(btf, datasec, variable, secinfo.offset, symbolOffset),
      size: secinfo.size, linkage: variable.linkage,
    };
  });
  return variables.sort((a, b) => a.offset - b.offset);
}

function offsetOf(btf: Btf, datasec: BtfDatasec, variable: BtfVar, recorded: number, symbolOffset?: SymbolOffsets): number {
  // static variables have their offsets from clang; only globals take the symbol's, as in libbpf
  if (!symbolOffset || variable.linkage === 0 || variable.linkage === 2) return recorded;
  const offset = symbolOffset(datasec.name, variable.name);
  if (offset === undefined) {
    throw new BtfError(`variable '${variable.name}' of DATASEC '${datasec.name}' has no symbol in section '${datasec.name}'`, {
      ...btf.context, typeId: variable.id,
    });
  }
  return offset;
}

/** Every DATASEC by name. */
export function datasecs(btf: Btf): Map<string, BtfDatasec> {
  const found = new Map<string, BtfDatasec>();
  for (const id of btf.ids()) {
    if (btf.kindOf(id) !== 'DATASEC') continue;
    const datasec = btf.typeOfKind(id, 'DATASEC');
    found.set(datasec.name, datasec);
  }
  return found;
}

/** .data, .rodata, .bss and their `.data.NAME` kin: the sections libbpf turns into maps of global variables. */
export function isGlobalDataSection(name: string): boolean {
  return /^\.(data|rodata|bss)(\..+)?$/.test(name);
}

export interface DataSection {
  /** the ELF section name */
  name: string;
  /** the DATASEC's id */
  datasecId: number;
  /** what kind of data: `rodata` sections are read-only to programs */
  kind: 'data' | 'rodata' | 'bss';
  variables: DatasecVariable[];
}

/**
 * The global-data sections of an object from its BTF: each with its
 * variables (name, offset, size, type id, linkage), offsets from the symbol
 * table when given. Sections without a DATASEC (a .rodata.str1.1 of string
 * literals) are the caller's from the ELF.
 */
export function dataSections(btf: Btf, symbolOffset?: SymbolOffsets): DataSection[] {
  const sections: DataSection[] = [];
  for (const [name, datasec] of datasecs(btf)) {
    if (!isGlobalDataSection(name)) continue;
    sections.push({
      name, datasecId: datasec.id, kind: /^\.(data|rodata|bss)/.exec(name)![1] as DataSection['kind'],
      variables: datasecVariables(btf, datasec, symbolOffset),
    });
  }
  return sections;
}
