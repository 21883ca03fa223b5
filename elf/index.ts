// The pure half of bpf-load: object bytes in, a spec out. No syscalls, no
// privileges; usable wherever the object file can be read.
export { parseObject, type ObjectSpec, type ParseOptions } from './object.js';
export type { MapSpec, MapDef, TcMapFields, MapConvention, MapsSectionInfo } from './mapDefs.js';
export { SAMPLES_DEF_SIZE, TC_DEF_SIZE, MAPS_SECTION } from './mapDefs.js';
export type { ProgramSpec, ProgramKind, ProgramRelocation, MapRelocation, CallRelocation } from './programs.js';
export { KNOWN_PROGRAM_PREFIXES, programKindOf } from './programs.js';
export { relocateProgram } from './relocate.js';
export * as insn from './instructions.js';
export { ElfError, BPF_LOAD_ERROR_BRAND } from './errors.js';
export type { ElfFile, ElfSection, ElfSymbol, ElfRelocation } from './elfFile.js';
