// struct bpf_insn (its opcodes live in uapi/) and the relocation types the loader acts on,
// spelled as in llvm's BPF ELF relocation list.

import { INSN_SIZE } from '../uapi/opcodes.js';

export { INSN_SIZE, BPF_LD_IMM64, BPF_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_FUNC, BPF_PSEUDO_CALL } from '../uapi/opcodes.js';

export const R_BPF_NONE = 0;
/** R_BPF_64_64: an LD_IMM64 referring to a symbol (a map) */
export const R_BPF_64_64 = 1;
export const R_BPF_64_ABS64 = 2;
export const R_BPF_64_ABS32 = 3;
export const R_BPF_64_NODYLD32 = 4;
/** R_BPF_64_32: a call to a function in another section */
export const R_BPF_64_32 = 10;

const RELOCATION_NAMES: Record<number, string> = {
  0: 'R_BPF_NONE', 1: 'R_BPF_64_64', 2: 'R_BPF_64_ABS64', 3: 'R_BPF_64_ABS32', 4: 'R_BPF_64_NODYLD32',
  10: 'R_BPF_64_32',
};

export function relocationTypeName(type: number): string {
  return RELOCATION_NAMES[type] ?? `relocation type ${type}`;
}

/** Read-only view of one instruction; callers check the index is in range. */
export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

/**
 * One instruction; callers check the index is in range. Big-endian objects
 * swap the register nibbles. Read byte by byte: this runs for every
 * instruction of every program, and a DataView per call was most of linking.
 */
export function insnAt(insns: Uint8Array, index: number, littleEndian = true): Insn {
  const at = index * INSN_SIZE;
  const regs = insns[at + 1]!;
  const b2 = insns[at + 2]!;
  const b3 = insns[at + 3]!;
  const b4 = insns[at + 4]!;
  const b5 = insns[at + 5]!;
  const b6 = insns[at + 6]!;
  const b7 = insns[at + 7]!;
  return {
    code: insns[at]!,
    dst: littleEndian ? regs & 0xf : regs >> 4,
    src: littleEndian ? regs >> 4 : regs & 0xf,
    // sign-extend the 16-bit offset; `| 0` makes the 32-bit immediate signed
    off: ((littleEndian ? b2 | (b3 << 8) : (b2 << 8) | b3) << 16) >> 16,
    imm: littleEndian ? b4 | (b5 << 8) | (b6 << 16) | (b7 << 24) : (b4 << 24) | (b5 << 16) | (b6 << 8) | b7,
  };
}

export function setSrcReg(insns: Uint8Array, index: number, src: number, littleEndian = true): void {
  const at = index * INSN_SIZE + 1;
  insns[at] = littleEndian ? (insns[at]! & 0x0f) | ((src & 0xf) << 4) : (insns[at]! & 0xf0) | (src & 0xf);
}

/** Callers check the index is in range. Written byte by byte, as insnAt() reads: no DataView per call. */
export function setImm(insns: Uint8Array, index: number, imm: number, littleEndian = true): void {
  const at = index * INSN_SIZE + 4;
  // a Uint8Array store keeps the low 8 bits, so each byte is that of the 32-bit value
  insns[at] = littleEndian ? imm : imm >> 24;
  insns[at + 1] = littleEndian ? imm >> 8 : imm >> 16;
  insns[at + 2] = littleEndian ? imm >> 16 : imm >> 8;
  insns[at + 3] = littleEndian ? imm >> 24 : imm;
}

export function insnCount(insns: Uint8Array): number {
  return Math.floor(insns.byteLength / INSN_SIZE);
}
