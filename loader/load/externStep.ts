// Externs in the load, as libbpf's bpf_object__resolve_externs and bpf_object__relocate_data do:
// resolved once per spec against the running kernel, the `.kconfig` map filled with their values,
// and every instruction that refers to a `__ksym` or calls a kfunc patched before BPF_PROG_LOAD.
// (`.kconfig` references are map-value loads from parse time on: see elf/modern.ts.)

import { marshalBtf, parseBtf } from '../../elf/btf/index.js';
import type { ObjectSpec, ProgramSpec } from '../../elf/index.js';
import { patchExternInstruction } from '../btf/externPatch.js';
import type { ProgramLoadFds } from '../btf/moduleFds.js';
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

/**
 * Every `__ksym` reference and kfunc call of `program` written into `insns` (its relocated copy,
 * patched in place); a typed ksym in a module takes the fd of the module's BTF object from `fds`.
 */
export function applyExterns(spec: ObjectSpec, program: ProgramSpec, insns: Uint8Array, settings: ExternStepSettings, fds?: ProgramLoadFds): void {
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
    patchExternInstruction(insns, relocation.insn, target, {
      fdArrayIndex: (module) => externs!.fdArraySlots.get(module) ?? -1,
      ...(fds ? { moduleBtfFd: (module: string) => fds.moduleBtfFd(module) } : {}),
    }, program.name);
  }
}

/**
 * BPF_PROG_LOAD's fd_array when `program` calls kfuncs of modules (libbpf's: each module's BTF fd
 * at the slot its calls' `off` names, slot 0 unused); undefined when it calls none.
 */
export function kfuncFdArray(spec: ObjectSpec, program: ProgramSpec, settings: ExternStepSettings, fds: ProgramLoadFds): Uint8Array | undefined {
  const names = new Set(program.relocations.filter((r) => r.kind === 'extern').map((r) => (r as { name: string }).name));
  if (names.size === 0) return undefined;
  const externs = resolvedExternsOf(spec, settings);
  if (!externs || externs.fdArraySlots.size === 0) return undefined;
  const calls = externs.ksyms.some((k) => k.kind === 'kfunc' && k.resolved && names.has(k.name) && externs.fdArraySlots.has(k.object));
  return calls ? fds.fdArray(externs.fdArraySlots) : undefined;
}
