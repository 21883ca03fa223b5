// BTF, pure (no system calls): the reader and its type graph, queries over it, bpftool's text form,
// .BTF.ext, BTF-defined maps and data sections, marshalling and sanitizing for the kernel, CO-RE.
export { Btf, parseBtf, type BtfHeader, type ParseBtfOptions } from './btf.js';
export { BtfError, type BtfErrorContext } from './errors.js';
export {
  MAX_RESOLVE_DEPTH, POINTER_SIZE, alignOf, describe, findMember, resolveType, sizeOf, skipModifiers, skipModsAndTypedefs,
  type MemberMatch,
} from './query.js';
export { formatBtf, formatBtfType } from './format.js';
export {
  BTF_EXT_SECTION, BTF_SECTION, mapsRelocations, objectBtf, objectBtfExt, objectBtfFixedUp, objectBtfMaps, objectDataSections,
  symbolOffsets,
} from './object.js';
export {
  parseBtfExt, programExtInfo, rebaseRecords, type BtfExt, type CoreRelo, type FuncInfo, type LineInfo, type ProgramExtInfo,
  type ProgramPart,
} from './ext.js';
export type * from './types.js';
export { BTF_KIND_NAMES } from './types.js';
export {
  dataSections, datasecVariables, datasecs, isGlobalDataSection, type DataSection, type DatasecVariable, type SymbolOffsets,
} from './datasec.js';
export {
  LIBBPF_PIN_BY_NAME, LIBBPF_PIN_NONE, MAPS_SECTION_BTF, btfMapDefinitions, type BtfMapDefinition,
  type BtfMapsOptions, type MapsRelocation,
} from './maps.js';
export { btfTypes, marshalBtf, type MarshalOptions } from './marshal.js';
export {
  ALL_BTF_FEATURES, fixupDatasecs, kconfigLayout, sanitizeBtfTypes, type KconfigSlot, type BtfKernelFeatures, type DatasecFixupInput,
} from './sanitize.js';
export {
  CORE_RELO_KIND_NAMES, calculateCoreRelocation, coreCandidates, essentialName, formatCoreSpec, parseCoreSpec, typesCompatible,
  typesMatch, type CoreRelocationResult, type CoreSpec,
} from './core.js';
export {
  CORE_POISON_IMM, applyCoreRelocations, patchCoreInstruction, type CorePatch, type CoreRelocationOutcome,
} from './corePatch.js';
export { coreReports, type CoreOutcome, type CoreRelocationKind, type CoreRelocationReport, type CoreTypeRef } from './coreReport.js';
