import type { ElfFile } from '../elfFile.js';
import { parseBtf, type Btf } from './btf.js';

export const BTF_SECTION = '.BTF';

/** The object's `.BTF`, parsed; undefined for an object built without -g. */
export function objectBtf(elf: ElfFile, file?: string): Btf | undefined {
  const section = elf.sections.find((s) => s.name === BTF_SECTION);
  if (!section) return undefined;
  return parseBtf(section.data, { section: BTF_SECTION, ...(file !== undefined && { file }) });
}
