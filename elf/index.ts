// The pure half of bpf-load: object bytes in, a spec out. No syscalls, no
// privileges; usable wherever the object file can be read.
export { parseObject, type ParseOptions } from './object.js';
export type {
  ObjectSpec, MapSpec, MapSpecSource, LegacyMapSource, AddedMapSource, MapContent, MapPinning, MapConvention, ByteOrder,
  ProgramSpec, ProgramKind, ProgramRelocation, MapRelocation, CallRelocation, TailCall, BtfMapSource, DataMapSource,
  InnerMapTemplate, FuncRelocation, VariableSpec, VariableType,
} from './types.js';
export { marshalBtf, sanitizeBtfTypes } from './btf/index.js';
export { dataMapName, libbpfObjectName } from './modern.js';
export { decodeVariable, encodeVariable, setVariable, type VariableValue } from './variables.js';
export { copySpec, mapOrder, programOrder, renameMap } from './spec.js';
export { SAMPLES_DEF_SIZE, TC_DEF_SIZE, MAPS_SECTION } from './mapDefs.js';
export { KNOWN_PROGRAM_PREFIXES, programKindOf } from './programs.js';
export {
  PIN_NONE, PIN_OBJECT_NS, PIN_GLOBAL_NS, NO_INNER_IDX, tcPinning, tcPinningValue, tcTailCallSlot, explainMissingTemplate,
  explainMissingProgArray, mapsWithTcId,
} from './tcConvention.js';
export { relocateProgram } from './relocate.js';
export * as insn from './instructions.js';
export { ElfError } from './errors.js';
export { checkElfMagic } from './elfFile.js';
