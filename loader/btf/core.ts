// CO-RE against the running kernel: each relocation record of an object is
// calculated (elf/btf's calculator) against the target libbpf would pick —
// the candidates of the local type's essential name in vmlinux, or, when
// vmlinux has none, in the first module whose own BTF has some — and applied
// to the instructions of the function it falls in.

import {
  BPF_CORE_TYPE_ID_LOCAL,
} from '../../uapi/btf.js';
import {
  calculateCoreRelocation, coreCandidates, patchCoreInstruction, type Btf, type BtfExt, type CoreRelo, type CorePatch as InsnPatch,
  type CoreRelocationResult,
} from '../../elf/btf/index.js';
import { STT_FUNC, sectionNamed, type ElfFile } from '../../elf/elfFile.js';
import { VMLINUX, type KernelBtf } from './kernelBtf.js';

const INSN_SIZE = 8;

/** Where a relocation's candidates come from. */
export interface CoreTarget {
  /** 'vmlinux' or a module's name */
  object: string;
  btf: Btf;
  /** the candidate type ids (empty: nothing in the kernel has the local type's name) */
  candidates: number[];
}

/**
 * libbpf's bpf_core_find_cands: candidates in vmlinux; only when there are none, the first
 * modules' own types (a module BTF that fails to parse is passed to onBroken and skipped).
 */
export function coreTarget(kernel: KernelBtf, local: Btf, localTypeId: number, onBroken?: (module: string, error: unknown) => void): CoreTarget {
  const localType = local.type(localTypeId);
  const inVmlinux = coreCandidates(kernel.vmlinux, localType);
  if (inVmlinux.length > 0) return { object: VMLINUX, btf: kernel.vmlinux, candidates: inVmlinux };
  for (const module of kernel.modules(onBroken)) {
    const own = coreCandidates(module.btf, localType).filter((id) => id >= module.btf.firstId);
    if (own.length > 0) return { object: module.name, btf: module.btf, candidates: own };
  }
  return { object: VMLINUX, btf: kernel.vmlinux, candidates: [] };
}

/**
 * coreTarget() for each relocation of one load, searched once per local type. A type_id_local
 * relocation is answered from the object's own BTF: it searches no candidates (and caches none).
 */
export function coreTargetsOf(
  kernel: KernelBtf, local: Btf, onBroken?: (module: string, error: unknown) => void,
): (relo: { typeId: number; kind: number }) => CoreTarget {
  const targets = new Map<number, CoreTarget>();
  return (relo) => {
    const known = targets.get(relo.typeId);
    if (known) return known;
    if (relo.kind === BPF_CORE_TYPE_ID_LOCAL) return { object: VMLINUX, btf: kernel.vmlinux, candidates: [] };
    const target = coreTarget(kernel, local, relo.typeId, onBroken);
    targets.set(relo.typeId, target);
    return target;
  };
}

/** One relocation of a function, calculated and applied. */
export interface KernelCorePatch {
  /** the function (program or subprogram) the instruction is in, as libbpf names programs */
  program: string;
  /** instruction index from the function's first instruction */
  insn: number;
  relo: CoreRelo;
  /** where the candidates came from */
  object: string;
  result: CoreRelocationResult;
  /** what was done, in libbpf's words */
  description: string[];
  poisoned: boolean;
  /** the value the instruction now holds (offset, immediate, or the new memory size when that changed) */
  to: string | undefined;
}

/** A function's instructions, for CO-RE: a copy of its bytes, patched in place. */
export interface CoreFunction {
  name: string;
  /** the ELF section it is in */
  section: string;
  /** its first instruction's index in the section */
  start: number;
  insns: Uint8Array;
}

/** The functions of the sections that carry CO-RE records (their bytes copied, ready to patch). */
export function coreFunctions(elf: ElfFile, ext: BtfExt): CoreFunction[] {
  const functions: CoreFunction[] = [];
  for (const sectionName of ext.coreRelos.keys()) {
    const section = sectionNamed(elf, sectionName);
    if (!section) continue;
    for (const symbol of elf.symbols) {
      if (symbol.type !== STT_FUNC || symbol.shndx !== section.index) continue;
      functions.push({
        name: symbol.name, section: sectionName, start: symbol.value / INSN_SIZE,
        insns: section.data.slice(symbol.value, symbol.value + symbol.size),
      });
    }
  }
  return functions.sort((a, b) => (a.section < b.section ? -1 : a.section > b.section ? 1 : a.start - b.start));
}

/**
 * Every CO-RE record of `functions` calculated against the kernel's BTF and patched into each
 * function's bytes, in record order. Throws the calculator's BtfError (naming the program, the
 * instruction, the local type and the access string) for a record that cannot be relocated.
 */
export function relocateCoreAgainstKernel(
  functions: readonly CoreFunction[], ext: BtfExt, local: Btf, kernel: KernelBtf, onBroken?: (module: string, error: unknown) => void,
): KernelCorePatch[] {
  const targetOf = coreTargetsOf(kernel, local, onBroken);
  const patches: KernelCorePatch[] = [];
  for (const fn of functions) {
    const count = fn.insns.byteLength / INSN_SIZE;
    for (const record of ext.coreRelos.get(fn.section) ?? []) {
      if (record.insnOff < fn.start || record.insnOff >= fn.start + count) continue;
      const relo: CoreRelo = { ...record, insnOff: record.insnOff - fn.start };
      const target = targetOf(relo);
      const result = calculateCoreRelocation(local, target.btf, relo, { candidates: target.candidates, program: fn.name });
      const patch: InsnPatch = patchCoreInstruction(fn.insns, relo.insnOff, result, fn.name);
      const last = patch.description[patch.description.length - 1] ?? '';
      patches.push({
        program: fn.name, insn: relo.insnOff, relo, object: target.object, result, description: patch.description,
        poisoned: patch.poisoned, to: patch.poisoned ? undefined : / -> (\S+)$/.exec(last)?.[1],
      });
    }
  }
  return patches;
}
