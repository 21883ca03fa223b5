// CO-RE, the instruction patch: a calculated relocation written into the
// instruction clang left for it, as libbpf's bpf_core_patch_insn does — an ALU
// immediate, a load/store offset (and size), a 64-bit immediate — or the
// instruction replaced by a call to a helper that does not exist, which the
// verifier refuses only if that instruction can run.

import { BPF_ALU, BPF_ALU64, BPF_B, BPF_DW, BPF_H, BPF_K, BPF_LD, BPF_LDX, BPF_ST, BPF_STX, BPF_W, BPF_CALL } from '../../uapi/opcodes.js';
import { BtfError } from './errors.js';
import { INSN_SIZE, insnAt, setImm } from '../instructions.js';
import { calculateCoreRelocation, type CoreRelocationResult } from './core.js';
import type { Btf } from './btf.js';
import type { CoreRelo } from './ext.js';

/** The immediate of libbpf's poison call: the verifier says "invalid func unknown#195896080". */
export const CORE_POISON_IMM = 0xbad2310;

const BPF_LD_IMM64 = BPF_LD | 0x00 | BPF_DW;
const SIZE_BYTES: Record<number, number> = { [BPF_B]: 1, [BPF_H]: 2, [BPF_W]: 4, [BPF_DW]: 8 };
const BYTES_SIZE: Record<number, number> = { 1: BPF_B, 2: BPF_H, 4: BPF_W, 8: BPF_DW };

export interface CorePatch {
  /** what was done, in the words of libbpf's debug log ("patched insn #12 (LDX/ST/STX) off 16 -> 24") */
  description: string[];
  poisoned: boolean;
  /** the value the instruction held and the one it holds now (offset, immediate); undefined when poisoned */
  from?: bigint;
  to?: bigint;
  /** a load/store whose size changed with the field's: the old and new size in bytes */
  memSize?: { from: number; to: number };
}

/**
 * Apply a calculated relocation to instruction `index` of `insns` (the
 * program's bytes, little-endian; patched in place). A BtfError when the
 * instruction is not what the relocation expects (another value than the
 * local one, an instruction kind that holds no such value), naming `program`.
 */
export function patchCoreInstruction(insns: Uint8Array, index: number, result: CoreRelocationResult, program: string): CorePatch {
  const count = Math.floor(insns.byteLength / INSN_SIZE);
  const fail = (message: string): never => {
    throw new BtfError(`program '${program}': CO-RE relocation at insn #${index}: ${message}`, { typeId: result.localSpec.rootTypeId, program });
  };
  if (index < 0 || index >= count) fail(`the program has ${count} instructions`);
  const insn = insnAt(insns, index);
  const isLdImm64 = insn.code === BPF_LD_IMM64;
  if (isLdImm64 && index + 1 >= count) fail('a 64-bit immediate load without its second half');
  const poison = (): CorePatch => {
    const description: string[] = [];
    // the second half too, so the verifier does not complain of "unknown opcode 00" instead
    if (isLdImm64) description.push(poisonAt(insns, index + 1));
    description.push(poisonAt(insns, index));
    return { description, poisoned: true };
  };
  if (result.poison) return poison();
  const local = result.localValue;
  const target = result.targetValue;
  const at = index * INSN_SIZE;
  const cls = insn.code & 0x07;
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64: {
      if ((insn.code & 0x08) !== BPF_K) fail(`ALU instruction 0x${insn.code.toString(16)} takes a register, not an immediate`);
      const current = BigInt.asUintN(64, BigInt(insn.imm));
      if (result.validate && current !== local) fail(`unexpected value in ALU instruction: got ${current}, expected ${local} -> ${target}`);
      setImm(insns, index, Number(BigInt.asIntN(32, target)));
      return { description: [`patched insn #${index} (ALU/ALU64) imm ${current} -> ${target}`], poisoned: false, from: current, to: target };
    }
    case BPF_LDX:
    case BPF_ST:
    case BPF_STX: {
      const current = BigInt.asUintN(64, BigInt(insn.off));
      if (result.validate && current !== local) fail(`unexpected value in LDX/ST/STX instruction: got ${current}, expected ${local} -> ${target}`);
      if (target > 0x7fffn) fail(`offset ${target} does not fit in a load/store instruction`);
      if (result.failMemSizeAdjust) return poison();
      insns[at + 2] = Number(target) & 0xff;
      insns[at + 3] = (Number(target) >> 8) & 0xff;
      const description = [`patched insn #${index} (LDX/ST/STX) off ${current} -> ${target}`];
      const patch: CorePatch = { description, poisoned: false, from: current, to: target };
      if (result.targetSize !== result.localSize) {
        const bytes = SIZE_BYTES[insn.code & 0x18]!;
        if (bytes !== result.localSize) fail(`unexpected memory size: the instruction accesses ${bytes} bytes, the field is ${result.localSize}`);
        const size = BYTES_SIZE[result.targetSize];
        if (size === undefined) fail(`the field's size on the target, ${result.targetSize} bytes, is no load/store size`);
        insns[at] = (insn.code & ~0x18) | size!;
        description.push(`patched insn #${index} (LDX/ST/STX) mem_sz ${result.localSize} -> ${result.targetSize}`);
        patch.memSize = { from: result.localSize, to: result.targetSize };
      }
      return patch;
    }
    case BPF_LD: {
      const second = insnAt(insns, index + 1);
      if (!isLdImm64 || insn.src !== 0 || insn.off !== 0 || second.code !== 0 || second.dst !== 0 || second.src !== 0 || second.off !== 0) {
        fail('the 64-bit immediate load has an unexpected form');
      }
      const current = (BigInt(second.imm >>> 0) << 32n) | BigInt(insn.imm >>> 0);
      if (result.validate && current !== local) fail(`unexpected value in LDIMM64 instruction: got ${current}, expected ${local} -> ${target}`);
      const value = BigInt.asUintN(64, target);
      setImm(insns, index, Number(value & 0xffffffffn) | 0);
      setImm(insns, index + 1, Number(value >> 32n) | 0);
      return { description: [`patched insn #${index} (LDIMM64) imm64 ${current} -> ${target}`], poisoned: false, from: current, to: target };
    }
    default:
      return fail(`instruction 0x${insn.code.toString(16)} holds no value a relocation can change`);
  }
}

function poisonAt(insns: Uint8Array, index: number): string {
  const at = index * INSN_SIZE;
  insns[at] = BPF_CALL;
  insns[at + 1] = 0;
  insns[at + 2] = 0;
  insns[at + 3] = 0;
  setImm(insns, index, CORE_POISON_IMM);
  return `substituting insn #${index} w/ invalid insn`;
}

export interface CoreRelocationOutcome {
  relo: CoreRelo;
  result: CoreRelocationResult;
  patch: CorePatch;
}

/**
 * Every CO-RE relocation of one program, calculated against `target` and
 * applied to its instructions in place. `relos` are the program's records
 * with instruction indices in the assembled program (programExtInfo's
 * coreRelos); errors name the program, the instruction, the local type and
 * the access string.
 */
export function applyCoreRelocations(
  insns: Uint8Array, relos: readonly CoreRelo[], local: Btf, target: Btf, program: string,
): CoreRelocationOutcome[] {
  return relos.map((relo) => {
    const result = calculateCoreRelocation(local, target, relo, { program });
    return { relo, result, patch: patchCoreInstruction(insns, relo.insnOff, result, program) };
  });
}
