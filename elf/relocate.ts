import { ElfError } from './errors.js';
import { BPF_LD_IMM64, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, INSN_SIZE, insnCount, setImm, setSrcReg } from './instructions.js';
import type { MapRelocation, ProgramSpec } from './types.js';

/**
 * The program's instructions with every map reference patched to
 * `src_reg = BPF_PSEUDO_MAP_FD, imm = fdOf(mapName)`, as bpf_load.c did.
 * Pure: the fds come from the callback (aya's relocate_maps style). Works on a
 * copy and returns only when every relocation applied, so a caller never holds
 * a half-patched program.
 */
export function relocateProgram(
  program: Pick<ProgramSpec, 'insns' | 'relocations' | 'section' | 'name'>,
  fdOf: (mapName: string, relocation: MapRelocation) => number,
  options: { file?: string; littleEndian?: boolean } = {},
): Uint8Array {
  const littleEndian = options.littleEndian ?? true;
  const insns = program.insns.slice();
  const count = insnCount(insns);
  for (const relocation of program.relocations) {
    if (relocation.kind !== 'map') continue;
    const at = relocation.insn;
    if (!Number.isInteger(at) || at < 0 || at + 1 >= count || insns[at * INSN_SIZE] !== BPF_LD_IMM64) {
      const context = { ...(options.file ? { file: options.file } : {}), section: relocation.sourceSection, program: program.name };
      throw new ElfError(
        `insn ${relocation.sourceInsn}: relocation (${relocation.relocationType}) against '${relocation.symbol}' ` +
          `does not point at an LD_IMM64 of the program`,
        context,
      );
    }
    const fd = fdOf(relocation.map, relocation);
    setSrcReg(insns, at, relocation.offset === undefined ? BPF_PSEUDO_MAP_FD : BPF_PSEUDO_MAP_VALUE, littleEndian);
    setImm(insns, at, fd, littleEndian);
    // the upper half of a map fd load is zero (what a static map's addend left is cleared); a value's holds its offset
    setImm(insns, at + 1, relocation.offset ?? 0, littleEndian);
  }
  return insns;
}
