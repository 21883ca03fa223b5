import type { ElfFile } from '../elfFile.js';
import { parseBtf, type Btf } from './btf.js';
import { parseBtfExt, type BtfExt } from './ext.js';

export const BTF_SECTION = '.BTF';
export const BTF_EXT_SECTION = '.BTF.ext';

/** The object's `.BTF`, parsed; undefined for an object built without -g. */
export function objectBtf(elf: ElfFile, file?: string): Btf | undefined {
  const section = elf.sections.find((s) => s.name === BTF_SECTION);
  if (!section) return undefined;
  return parseBtf(section.data, { section: BTF_SECTION, ...(file !== undefined && { file }) });
}

/** The object's `.BTF.ext` read against its `.BTF`; undefined when there is none. */
export function objectBtfExt(elf: ElfFile, btf: Btf, file?: string): BtfExt | undefined {
  const section = elf.sections.find((s) => s.name === BTF_EXT_SECTION);
  if (!section) return undefined;
  return parseBtfExt(section.data, btf, file !== undefined ? { file } : {});
}
