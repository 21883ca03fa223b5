// Externs in the load, as libbpf's bpf_object__resolve_externs and bpf_object__relocate_data do:
// resolved once per spec against the running kernel, the `.kconfig` map filled with their values,
// and every instruction that refers to a `__ksym` or calls a kfunc patched before BPF_PROG_LOAD.
// (`.kconfig` references are map-value loads from parse time on: see elf/modern.ts.)

import { marshalBtf, parseBtf } from '../../elf/btf/index.js';
import type { ObjectSpec, ProgramSpec } from '../../elf/index.js';
import { patchExternInstruction } from '../btf/externPatch.js';
import { resolveObjectExterns, type ResolvedExterns } from '../btf/resolveExterns.js';
import { LoadError } from '../errors.js';

export interface ExternStepSettings {
  btfPath?: string | undefined;
  onWarning?: ((message: string) => void) | undefined;
}

const resolved = new WeakMap<ObjectSpec, ResolvedExterns>();

/** The object's externs resolved against the kernel (undefined when it has none), once per spec. */
export function resolvedExternsOf(spec: ObjectSpec, settings: ExternStepSettings): ResolvedExterns | undefined {
  if (!spec.externs || !spec.btf) return undefined;
  let result = resolved.get(spec);
  if (!result) {
    // the BTF as written: the fix-ups made `.ksyms` entries ints, and which are typed matters here
    const btf = parseBtf(marshalBtf(spec.externs.types, { strings: spec.btf.strings, littleEndian: spec.byteOrder === 'little' }), {
      file: spec.file, section: '.BTF',
    });
    result = resolveObjectExterns(spec.externs.symbols, btf, {
      ...(settings.btfPath !== undefined ? { btfPath: settings.btfPath } : {}),
      ...(settings.onWarning ? { onWarning: settings.onWarning } : {}),
    }, spec.file);
    resolved.set(spec, result);
  }
  return result;
}

/** Every `__ksym` reference and kfunc call of `program` written into `insns` (its relocated copy, patched in place). */
export function applyExterns(spec: ObjectSpec, program: ProgramSpec, insns: Uint8Array, settings: ExternStepSettings): void {
  const relocations = program.relocations.filter((r) => r.kind === 'extern');
  if (relocations.length === 0) return;
  const externs = resolvedExternsOf(spec, settings);
  for (const relocation of relocations) {
    const target = externs?.ksyms.find((k) => k.name === relocation.name);
    if (!target) {
      throw new LoadError(`insn #${relocation.insn} refers to '${relocation.name}', which is no __ksym or kfunc of the object's BTF`, {
        file: spec.file, section: program.section, program: program.name,
      }, { code: 'BPF_LOAD_INPUT' });
    }
    patchExternInstruction(insns, relocation.insn, target, { fdArrayIndex: (module) => externs!.fdArraySlots.get(module) ?? -1 }, program.name);
  }
}
