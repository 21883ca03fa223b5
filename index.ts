// bpf-load: load samples/bpf-style eBPF objects from Node.js.
export { loadBpfFile, loadBpfFileSync, loadBpfObject, loadObjectSpec } from './loader/loadBpfFile.js';
export { BpfObject } from './loader/bpfObject.js';
export { BpfMap } from './loader/bpfMap.js';
export { TypedMap, type MapChunk } from './loader/typedMap.js';
export { openPinnedMap, openMapFd, openMapById, type OpenPinnedMapOptions } from './loader/openMap.js';
export { MapError } from './loader/mapError.js';
export {
  u8, u16, u32, u64, i8, i16, i32, i64, bytes, cstring, array, struct, codecByName, CODEC_NAMES,
  type Codec, type StructFields, type StructValue, type StructOptions,
} from './loader/codecs.js';
export { possibleCpus, parseCpuList, perCpuStride } from './loader/perCpu.js';
export { BpfProgram } from './loader/bpfProgram.js';
export { ProgramLoadError } from './loader/programError.js';
export { runningKernelVersion } from './loader/loadPrograms.js';
export {
  Attachment, attachSocketFilter, openRawPacketSocket, PacketSocket, attachXdp, detachXdp, attachTracepoint,
  attachRawTracepoint, attachKprobe, kprobeSupport, tracefsRoot, attachCgroup, attachFromSection,
  type AttachKind, type ProgramRef, type SocketRef, type XdpOptions, type CgroupAttachType, type CgroupOptions,
} from './loader/attach/index.js';
export { relocateProgram, KNOWN_PROGRAM_PREFIXES } from './elf/index.js';
export type { ProgramKind, ProgramRelocation, MapRelocation, CallRelocation } from './elf/index.js';
export { unpinDirectory, isBpffs, BPF_FS_MAGIC, DEFAULT_BPFFS, type UnpinResult } from './loader/bpffs.js';
export { PIN_NONE, PIN_OBJECT_NS, PIN_GLOBAL_NS, objectHash, rememberObjectBytes } from './loader/tcMaps.js';
export type { LoadOptions } from './loader/options.js';
export type { MapData, FixupMap } from './loader/createMaps.js';
export { LoadError, isBpfLoadError } from './loader/errors.js';
export { parseObject, ElfError } from './elf/index.js';
export type { ObjectSpec, MapSpec, MapDef, ProgramSpec, TcMapFields, MapConvention } from './elf/index.js';
export { SyscallError, BPF_MAP_TYPE, BPF_PROG_TYPE, BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK, BPF_F_NO_PREALLOC, BPF_F_NUMA_NODE, BPF_F_RDONLY, BPF_F_WRONLY, mapTypeName, progTypeName } from './syscall/index.js';
