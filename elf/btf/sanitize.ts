// Making an object's BTF acceptable to the kernel before BPF_BTF_LOAD, as
// libbpf does (bpf_object__sanitize_btf, btf_fixup_datasec): DATASEC sizes and
// global variables' offsets from the ELF, then every kind the running kernel
// lacks replaced by one it has, keeping every id (so key/value type ids and
// func_info stay valid).

import type { Btf } from './btf.js';
import { datasecVariables, type SymbolOffsets } from './datasec.js';
import { BtfError } from './errors.js';
import type { BtfDatasec, BtfInt, BtfType, BtfVar } from './types.js';
import { alignOf, sizeOf } from './query.js';

const BTF_VAR_GLOBAL_ALLOCATED = 1;
const BTF_FUNC_GLOBAL = 1;
const DUMMY_KSYM = 'dummy_ksym';

/** What the kernel's BTF knows, found by probes (each a BTF_BTF_LOAD of a tiny BTF using it). */
export interface BtfKernelFeatures {
  /** VAR and DATASEC (5.2) */
  datasec: boolean;
  /** FUNC and FUNC_PROTO (4.20) */
  func: boolean;
  /** FUNC with global linkage (5.6) */
  funcGlobal: boolean;
  /** FLOAT (5.13) */
  float: boolean;
  /** DECL_TAG (5.16) */
  declTag: boolean;
  /** TYPE_TAG (5.17) */
  typeTag: boolean;
  /** ENUM64 and signed enums (6.0) */
  enum64: boolean;
}

/** A kernel with every kind this reader knows (6.0 and later). */
export const ALL_BTF_FEATURES: Readonly<BtfKernelFeatures> = Object.freeze({
  datasec: true, func: true, funcGlobal: true, float: true, declTag: true, typeTag: true, enum64: true,
});

/** Sections whose DATASECs libbpf builds itself (externs): no ELF section to size them from. */
const EXTERN_SECTIONS = new Set(['.kconfig', '.ksyms']);

export interface DatasecFixupInput {
  /** the ELF section sizes by name (.bss's too, though it has no bytes in the file) */
  sectionSize: (section: string) => number | undefined;
  /** global variables' offsets from the symbol table */
  symbolOffset: SymbolOffsets;
}

/**
 * libbpf's btf_fixup_datasec: a DATASEC of size 0 (as clang writes them) gets
 * its ELF section's size and its global variables their symbols' offsets;
 * every DATASEC's variables are sorted by offset, as the kernel requires.
 * Returns the types in id order, the changed ones replaced.
 */
export function fixupDatasecs(btf: Btf, input: DatasecFixupInput): BtfType[] {
  const types: BtfType[] = [];
  for (const id of btf.ids()) {
    const type = btf.type(id);
    types.push(type.kind === 'DATASEC' && !EXTERN_SECTIONS.has(type.name) ? fixupDatasec(btf, type, input) : type);
  }
  const firstId = btf.ids()[Symbol.iterator]().next().value ?? 1;
  const at = (id: number): number => id - firstId;
  for (const type of [...types]) {
    if (type.kind !== 'DATASEC') continue;
    if (type.name === '.kconfig') types[at(type.id)] = fixupKconfig(btf, type, types, at);
    else if (type.name === '.ksyms') types[at(type.id)] = fixupKsyms(btf, type, types, at, firstId);
  }
  return types;
}

/** One `.kconfig` variable as its layout needs it. */
export interface KconfigSlot {
  name: string;
  size: number;
  align: number;
}

/**
 * libbpf's layout of the `.kconfig` map (clang leaves every offset 0): the variables by
 * descending alignment, then ascending size, then name, each at the next offset its alignment
 * allows. Returns each variable's offset (in the order given) and the map value's size.
 */
export function kconfigLayout(slots: readonly KconfigSlot[]): { offsets: number[]; size: number } {
  const order = slots.map((_, i) => i);
  order.sort((i, j) => {
    const a = slots[i]!;
    const b = slots[j]!;
    return b.align - a.align || a.size - b.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  });
  const offsets = new Array<number>(slots.length).fill(0);
  let size = 0;
  for (const i of order) {
    const slot = slots[i]!;
    offsets[i] = Math.ceil(size / slot.align) * slot.align;
    size = offsets[i]! + slot.size;
  }
  return { offsets, size };
}

/** The `.kconfig` DATASEC laid out as the map holds it; its variables' linkage becomes allocated. */
function fixupKconfig(btf: Btf, datasec: BtfDatasec, types: BtfType[], at: (id: number) => number): BtfDatasec {
  const vars = datasec.vars.map((v) => {
    const variable = btf.type(v.type);
    if (variable.kind !== 'VAR') throw new BtfError(`DATASEC '.kconfig' holds ${variable.kind} [${variable.id}], not a VAR`, { ...btf.context, typeId: datasec.id });
    return { id: v.type, name: variable.name, size: sizeOf(btf, variable.type), align: alignOf(btf, variable.type) };
  });
  const { offsets, size } = kconfigLayout(vars);
  for (const v of vars) types[at(v.id)] = { ...(types[at(v.id)] as BtfVar), linkage: BTF_VAR_GLOBAL_ALLOCATED };
  // in offset order, as the kernel requires (libbpf sorts every DATASEC's entries)
  const entries = datasec.vars.map((v, i) => ({ type: v.type, offset: offsets[i]!, size: vars[i]!.size }));
  return { ...datasec, size, vars: entries.sort((a, b) => a.offset - b.offset) };
}

/**
 * libbpf's `.ksyms` for the kernel: every entry a 4-byte int at its index times 4, variables
 * made allocated ints, and functions (kfuncs) global and replaced in the DATASEC by one
 * `dummy_ksym` int variable appended to the types, whose name also fills unnamed parameters.
 */
function fixupKsyms(btf: Btf, datasec: BtfDatasec, types: BtfType[], at: (id: number) => number, firstId: number): BtfDatasec {
  const intId = types.find((t) => t.kind === 'INT' && t.bits === 32)?.id ?? 0;
  let dummyId = 0;
  const dummy = (): number => {
    if (dummyId === 0) {
      dummyId = firstId + types.length;
      types.push({ id: dummyId, kind: 'VAR', name: DUMMY_KSYM, type: intId, linkage: BTF_VAR_GLOBAL_ALLOCATED });
    }
    return dummyId;
  };
  const vars = datasec.vars.map((v, index) => {
    const entry = types[at(v.type)]!;
    let type = v.type;
    if (entry.kind === 'FUNC') {
      const proto = types[at(entry.type)];
      if (proto?.kind === 'FUNC_PROTO') {
        types[at(proto.id)] = { ...proto, params: proto.params.map((p) => (p.type !== 0 && p.name === '' ? { ...p, name: DUMMY_KSYM } : p)) };
      }
      types[at(entry.id)] = { ...entry, linkage: BTF_FUNC_GLOBAL };
      type = dummy();
    } else if (entry.kind === 'VAR') {
      types[at(entry.id)] = { ...entry, type: intId, linkage: BTF_VAR_GLOBAL_ALLOCATED };
    } else {
      throw new BtfError(`DATASEC '.ksyms' holds ${entry.kind} [${entry.id}], neither a VAR nor a FUNC`, { ...btf.context, typeId: datasec.id });
    }
    return { type, offset: index * 4, size: 4 };
  });
  return { ...datasec, size: vars.length * 4, vars };
}

function fixupDatasec(btf: Btf, datasec: BtfDatasec, input: DatasecFixupInput): BtfDatasec {
  let size = datasec.size;
  let symbolOffset: SymbolOffsets | undefined;
  if (size === 0) {
    const sectionSize = input.sectionSize(datasec.name);
    if (!sectionSize) {
      throw new BtfError(`DATASEC '${datasec.name}' has size 0 and no ELF section of that name gives one`, { ...btf.context, typeId: datasec.id });
    }
    size = sectionSize;
    symbolOffset = input.symbolOffset;
  }
  const vars = datasecVariables(btf, datasec, symbolOffset).map((v) => ({ type: v.varId, offset: v.offset, size: v.size }));
  for (const v of vars) {
    if (v.offset + v.size > size) {
      throw new BtfError(`variable [${v.type}] of DATASEC '${datasec.name}' at offset ${v.offset} (${v.size} bytes) is past its ${size} bytes`, {
        ...btf.context, typeId: datasec.id,
      });
    }
  }
  return { ...datasec, size, vars };
}

/**
 * The types with every kind the kernel lacks replaced as libbpf replaces
 * them, ids unchanged (an ENUM64 placeholder INT may be appended at the end):
 * - no DATASEC: VAR → INT of 1 byte, DATASEC → STRUCT of the variables ('.' → '_' in its name);
 * - no FUNC: FUNC_PROTO → ENUM (one value per parameter), FUNC → TYPEDEF;
 * - no global FUNC linkage: global → static;
 * - no FLOAT: an anonymous empty STRUCT of the same size;
 * - no DECL_TAG: an anonymous 1-byte INT;
 * - no TYPE_TAG: an anonymous CONST of the same type;
 * - no ENUM64: ENUM64 → UNION of placeholder INT members, and enums lose their signedness flag.
 */
export function sanitizeBtfTypes(types: readonly BtfType[], features: BtfKernelFeatures, firstId = 1): BtfType[] {
  const out = [...types];
  let enum64Placeholder = 0;
  const byteInt = (id: number, name: string): BtfInt => ({
    id, kind: 'INT', name, size: 1, signed: false, char: false, bool: false, bitOffset: 0, bits: 8,
  });
  for (let index = 0; index < out.length; index++) {
    const type = out[index]!;
    const { id } = type;
    switch (type.kind) {
      case 'VAR':
        if (!features.datasec) out[index] = byteInt(id, type.name);
        break;
      case 'DATASEC':
        if (!features.datasec) {
          out[index] = {
            id, kind: 'STRUCT', name: type.name.replaceAll('.', '_'), size: type.size, kindFlag: false,
            members: type.vars.map((v) => ({ name: nameOf(types, v.type, firstId), type: v.type, bitOffset: v.offset * 8, bitfieldSize: 0 })),
          };
        }
        break;
      case 'FUNC_PROTO':
        if (!features.func) {
          out[index] = { id, kind: 'ENUM', name: type.name, size: 4, signed: false, values: type.params.map((p) => ({ name: p.name, value: p.type })) };
        }
        break;
      case 'FUNC':
        if (!features.func) out[index] = { id, kind: 'TYPEDEF', name: type.name, type: type.type, kindFlag: false };
        else if (!features.funcGlobal && type.linkage !== 0) out[index] = { ...type, linkage: 0 };
        break;
      case 'FLOAT':
        if (!features.float) out[index] = { id, kind: 'STRUCT', name: '', size: type.size, kindFlag: false, members: [] };
        break;
      case 'DECL_TAG':
        if (!features.declTag) out[index] = byteInt(id, '');
        break;
      case 'TYPE_TAG':
        if (!features.typeTag) out[index] = { id, kind: 'CONST', name: '', type: type.type, kindFlag: false };
        break;
      case 'ENUM':
        if (!features.enum64 && type.signed) out[index] = { ...type, signed: false };
        break;
      case 'ENUM64':
        if (!features.enum64) {
          if (enum64Placeholder === 0) {
            enum64Placeholder = firstId + types.length;
            out.push(byteInt(enum64Placeholder, 'enum64_placeholder'));
          }
          out[index] = {
            id, kind: 'UNION', name: type.name, size: type.size, kindFlag: false,
            members: type.values.map((v) => ({ name: v.name, type: enum64Placeholder, bitOffset: 0, bitfieldSize: 0 })),
          };
        }
        break;
      default:
        break;
    }
  }
  return out;
}

function nameOf(types: readonly BtfType[], id: number, firstId: number): string {
  return types[id - firstId]?.name ?? '';
}
