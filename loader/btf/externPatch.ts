// An extern's resolution written into the instruction that refers to it, as
// libbpf's bpf_object__relocate_data does: the ld_imm64 of a .kconfig
// variable becomes a map-value load, that of a ksym an address or a BTF id,
// a call to a kfunc a BPF_PSEUDO_KFUNC_CALL. Pure: the fds are the caller's.

import { insn as insns } from '../../elf/index.js';
import { BPF_CALL as CALL, BPF_LD_IMM64 as LD_IMM64, BPF_PSEUDO_BTF_ID, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_VALUE } from '../../uapi/opcodes.js';
import { LoadError } from '../errors.js';
import type { KconfigExtern } from './externs.js';
import type { KsymResolution } from './ksyms.js';


export interface ExternPatchFds {
  /** the `.kconfig` map's fd (for kconfig externs) */
  kconfigMapFd?: number;
  /** a module's BTF object fd (typed ksym variables in a module) */
  moduleBtfFd?: (module: string) => number;
  /** a module's fd_array index (kfuncs in a module; see kfuncFdArraySlots) */
  fdArrayIndex?: (module: string) => number;
}

/**
 * Write what `target` resolved to into instruction `index` of `code` (a program's bytes,
 * little-endian, patched in place). A LoadError naming the program when the instruction is not
 * the ld_imm64 or call such an extern is referred to by.
 */
export function patchExternInstruction(
  code: Uint8Array, index: number, target: KconfigExtern | KsymResolution, fds: ExternPatchFds, program: string,
): void {
  const at = insns.insnAt(code, index);
  const fail = (message: string): never => {
    throw new LoadError(`insn #${index} refers to extern '${target.name}': ${message}`, { program }, { code: 'BPF_LOAD_INPUT' });
  };
  if ('kind' in target && target.kind === 'kfunc') {
    if (at.code !== CALL) fail(`a kfunc is called, and the instruction is 0x${at.code.toString(16)}, not a call`);
    insns.setSrcReg(code, index, BPF_PSEUDO_KFUNC_CALL);
    insns.setImm(code, index, target.btfId);
    const slot = target.object === 'vmlinux' || !target.resolved ? 0 : (fds.fdArrayIndex?.(target.object) ?? fail(`no fd_array slot for module '${target.object}'`));
    code[index * 8 + 2] = slot & 0xff;
    code[index * 8 + 3] = (slot >> 8) & 0xff;
    return;
  }
  if (at.code !== LD_IMM64 || index + 1 >= insns.insnCount(code)) fail(`the instruction is 0x${at.code.toString(16)}, not a 64-bit immediate load`);
  if (target.kind === 'kconfig') {
    if (fds.kconfigMapFd === undefined) fail('no .kconfig map fd');
    insns.setSrcReg(code, index, BPF_PSEUDO_MAP_VALUE);
    insns.setImm(code, index, fds.kconfigMapFd!);
    insns.setImm(code, index + 1, target.offset);
  } else if (target.kind === 'btf-id') {
    insns.setSrcReg(code, index, BPF_PSEUDO_BTF_ID);
    insns.setImm(code, index, target.btfId);
    insns.setImm(code, index + 1, target.object === 'vmlinux' ? 0 : (fds.moduleBtfFd?.(target.object) ?? fail(`no BTF fd for module '${target.object}'`)));
  } else if (target.kind === 'address') {
    insns.setSrcReg(code, index, 0);
    insns.setImm(code, index, Number(target.address & 0xffffffffn) | 0);
    insns.setImm(code, index + 1, Number(target.address >> 32n) | 0);
  } else {
    fail('an extern of an unknown kind');
  }
}
