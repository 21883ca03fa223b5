// The pure half of bpf-load: object bytes in, a spec out. No syscalls, no
// privileges; usable wherever the object file can be read.
export { parseObject, type ParseOptions } from './object.js';
export type {
  ObjectSpec, MapSpec, MapDef, TcMapFields, MapConvention, MapsSectionInfo, ProgramSpec, ProgramKind, ProgramRelocation,
  MapRelocation, CallRelocation,
} from './types.js';
export { SAMPLES_DEF_SIZE, TC_DEF_SIZE, MAPS_SECTION } from './mapDefs.js';
export { KNOWN_PROGRAM_PREFIXES, programKindOf } from './programs.js';
export { relocateProgram } from './relocate.js';
export * as insn from './instructions.js';
export { ElfError } from './errors.js';
export type { ElfFile, ElfSection, ElfSymbol, ElfRelocation } from './elfFile.js';
export { checkElfMagic } from './elfFile.js';
