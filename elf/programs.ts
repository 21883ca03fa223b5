import type { ElfFile } from './elfFile.js';

/**
 * A program section, as found in the object. Filled by readPrograms(); the
 * loader relocates a copy of `insns` and never the spec's own bytes.
 */
export interface ProgramSpec {
  /** section name, e.g. `socket1`, `xdp`, `tracepoint/syscalls/sys_enter_write` */
  section: string;
  sectionIndex: number;
  /** function symbol name (falls back to the section name) */
  name: string;
  /** BPF_PROG_TYPE_* number */
  type: number;
  /** raw instructions, 8 bytes each, as in the file */
  insns: Uint8Array;
}

export interface ProgramsResult {
  programs: ProgramSpec[];
  warnings: string[];
}

export function readPrograms(_elf: ElfFile, _file: string): ProgramsResult {
  return { programs: [], warnings: [] };
}
