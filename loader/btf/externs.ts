// An object's externs: undefined ELF symbols that BTF places in the `.kconfig`
// DATASEC (values the loader supplies from the kernel's configuration) or the
// `.ksyms` one (kernel symbols: variables by address or BTF id, kfuncs by BTF
// id). Pure: the ELF symbols and the object's BTF in, plain records out, with
// `.kconfig`'s layout computed as libbpf does (clang leaves every offset 0).

import { alignOf, datasecs, kconfigLayout, sizeOf, skipModsAndTypedefs, type Btf } from '../../elf/btf/index.js';
import { SHN_UNDEF, STB_GLOBAL, STB_WEAK, STT_NOTYPE, type ElfSymbol } from '../../elf/elfFile.js';
import { LoadError } from '../errors.js';

export const KCONFIG_SECTION = '.kconfig';
export const KSYMS_SECTION = '.ksyms';


/** How a `.kconfig` value is stored: libbpf's enum kcfg_type. */
export type KconfigType = 'bool' | 'char' | 'int' | 'tristate' | 'char-array';

export interface KconfigExtern {
  kind: 'kconfig';
  name: string;
  weak: boolean;
  /** the VAR in the object's BTF */
  varId: number;
  type: KconfigType;
  signed: boolean;
  size: number;
  align: number;
  /** byte offset in the `.kconfig` map's value */
  offset: number;
}

export interface KsymExtern {
  kind: 'ksym';
  name: string;
  weak: boolean;
  /** the VAR or FUNC in the object's BTF */
  btfId: number;
  /** a FUNC: a kfunc, called with BPF_PSEUDO_KFUNC_CALL */
  func: boolean;
  /** a VAR of a type (not `void`): resolved to a BTF id, else to an address from /proc/kallsyms */
  typed: boolean;
  /** the local type the kernel's must be compatible with: the FUNC_PROTO or the VAR's type (modifiers and typedefs skipped) */
  localTypeId: number;
}

export type ObjectExtern = KconfigExtern | KsymExtern;

export interface ObjectExterns {
  kconfig: KconfigExtern[];
  ksyms: KsymExtern[];
  /** bytes of the `.kconfig` map's value (0 when the object has no kconfig extern) */
  kconfigSize: number;
}

/** libbpf's find_kcfg_type: how a `.kconfig` variable of this type is filled, or undefined when it cannot be. */
export function kconfigTypeOf(btf: Btf, typeId: number): { type: KconfigType; signed: boolean } | undefined {
  const type = btf.type(skipModsAndTypedefs(btf, typeId));
  switch (type.kind) {
    case 'INT':
      if (type.bool) return type.size === 1 ? { type: 'bool', signed: false } : undefined;
      if (type.size === 1) return { type: 'char', signed: type.signed };
      if (type.size > 8 || (type.size & (type.size - 1)) !== 0) return undefined;
      return { type: 'int', signed: type.signed };
    case 'ENUM':
    case 'ENUM64':
      return type.name === 'libbpf_tristate' && (type.kind === 'ENUM64' || type.size === 4) ? { type: 'tristate', signed: false } : undefined;
    case 'ARRAY':
      if (type.nelems === 0) return undefined;
      return kconfigTypeOf(btf, type.type)?.type === 'char' ? { type: 'char-array', signed: false } : undefined;
    default:
      return undefined;
  }
}

/**
 * The object's externs (undefined global or weak NOTYPE symbols), each found in the `.kconfig` or
 * `.ksyms` DATASEC of its BTF, and the `.kconfig` layout: by alignment descending, then size
 * ascending, then name, each at the next offset its alignment allows (libbpf's order, so the
 * map's bytes are libbpf's). A LoadError (BPF_LOAD_INPUT) for an extern BTF does not describe or
 * a `.kconfig` type no value can be written to.
 */
export function objectExterns(symbols: readonly ElfSymbol[], btf: Btf | undefined, file?: string): ObjectExterns {
  const externs = symbols.filter((s) => s.shndx === SHN_UNDEF && s.name !== '' && s.type === STT_NOTYPE && (s.bind === STB_GLOBAL || s.bind === STB_WEAK));
  const result: ObjectExterns = { kconfig: [], ksyms: [], kconfigSize: 0 };
  if (externs.length === 0) return result;
  const fail = (message: string): never => {
    throw new LoadError(message, { file }, { code: 'BPF_LOAD_INPUT' });
  };
  if (!btf) return fail(`extern '${externs[0]!.name}' needs BTF, and the object has none (build it with clang -g)`);
  const sections = datasecs(btf);
  const bySection = new Map<string, Map<string, number>>();
  for (const name of [KCONFIG_SECTION, KSYMS_SECTION]) {
    const entries = new Map<string, number>();
    for (const secinfo of sections.get(name)?.vars ?? []) entries.set(btf.type(secinfo.type).name, secinfo.type);
    bySection.set(name, entries);
  }
  for (const symbol of externs) {
    const weak = symbol.bind === STB_WEAK;
    const kconfigId = bySection.get(KCONFIG_SECTION)!.get(symbol.name);
    const ksymId = bySection.get(KSYMS_SECTION)!.get(symbol.name);
    if (kconfigId !== undefined) {
      const variable = btf.type(kconfigId);
      if (variable.kind !== 'VAR') fail(`extern '${symbol.name}' is a ${variable.kind} in ${KCONFIG_SECTION}, not a variable`);
      const typeId = (variable as { type: number }).type;
      const how = kconfigTypeOf(btf, typeId);
      if (!how) fail(`extern (kcfg) '${symbol.name}': type is unsupported (bool, char, integers, enum libbpf_tristate and char arrays are)`);
      result.kconfig.push({
        kind: 'kconfig', name: symbol.name, weak, varId: kconfigId, type: how!.type, signed: how!.signed,
        size: sizeOf(btf, typeId), align: alignOf(btf, typeId), offset: 0,
      });
    } else if (ksymId !== undefined) {
      const entry = btf.type(ksymId);
      if (entry.kind === 'FUNC') {
        result.ksyms.push({ kind: 'ksym', name: symbol.name, weak, btfId: ksymId, func: true, typed: true, localTypeId: entry.type });
      } else if (entry.kind === 'VAR') {
        const localTypeId = skipModsAndTypedefs(btf, entry.type);
        result.ksyms.push({ kind: 'ksym', name: symbol.name, weak, btfId: ksymId, func: false, typed: localTypeId !== 0, localTypeId });
      } else {
        fail(`extern '${symbol.name}' is a ${entry.kind} in ${KSYMS_SECTION}, neither a variable nor a function`);
      }
    } else {
      fail(`extern '${symbol.name}' is in neither ${KCONFIG_SECTION} nor ${KSYMS_SECTION} of the object's BTF`);
    }
  }
  const layout = kconfigLayout(result.kconfig);
  result.kconfig.forEach((extern, i) => {
    extern.offset = layout.offsets[i]!;
  });
  result.kconfig.sort((a, b) => a.offset - b.offset);
  result.kconfigSize = layout.size;
  result.ksyms.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return result;
}
