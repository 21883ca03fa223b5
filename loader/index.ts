// bpf-load: load samples/bpf-style eBPF objects from Node.js. The public API: what users call and the
// types they receive or name. A test holds this list, so a change to it is deliberate.

// the load
export {
  loadBpfFile, loadBpfFileSync, loadObject, loadBpfObject, readObjectSpec, loadObjectSpec, parseObject,
} from './load/loadBpfFile.js';
export { validateSpec } from './load/validateSpec.js';
export { BpfObject, type Closeable } from './load/bpfObject.js';
export type {
  LoadOptions, LoadObjectOptions, ReadOptions, MapLoadOptions, ProgramLoadOptions, PinningLoadOptions, ProgramSelection,
  MapData, MapDef, FixupMap, FreplaceTarget,
} from './options.js';
export { copySpec, mapOrder, programOrder, renameMap, setVariable } from '../elf/index.js';
export type {
  ObjectSpec, MapSpec, MapSpecSource, LegacyMapSource, AddedMapSource, MapContent, MapPinning, MapConvention, ByteOrder,
  ProgramSpec, ProgramKind, ProgramRelocation, MapRelocation, CallRelocation, TailCall, ParseOptions,
  BtfMapSource, DataMapSource, InnerMapTemplate, FuncRelocation, VariableSpec, VariableType, VariableValue,
} from '../elf/index.js';
export { BpfVariable } from './load/variable.js';
// what CO-RE did (program.coreRelocations), or would do without a load
export { coreRelocationsOf, type CoreRelocationsOptions } from './load/coreStep.js';
export type { CoreRelocationReport, CoreRelocationKind, CoreTypeRef } from '../elf/btf/index.js';

// maps
export { BpfMap } from './maps/bpfMap.js';
export { TypedMap, type MapChunk } from './maps/typedMap.js';
export { RawMap } from './maps/rawMap.js';
export { openPinnedMap, openMapFd, openMapById, type OpenPinnedMapOptions } from './maps/openMap.js';
export {
  u8, u16, u32, u64, i8, i16, i32, i64, bytes, cstring, array, struct, codecByName, CODEC_NAMES,
  type Codec, type StructFields, type StructValue, type StructOptions,
} from './maps/codecs.js';
export { btfCodec, btfVariablesCodec, enumName, type BtfCodec, type BtfValue } from './maps/btfCodec.js';
export { btfFormatted, formattedEntry, formattedJson, formattedSection, type Formatted } from './maps/btfFormat.js';
export { generateSkeleton, type GenerateSkeletonOptions } from './skeleton/generate.js';
export {
  loadSkeleton, skeletonRecords, type RecordType, type SkeletonDescription, type SkeletonObject, type SkeletonVariable,
} from './skeleton/loadSkeleton.js';
export { possibleCpus } from './maps/perCpu.js';

// programs and attachments
export { BpfProgram } from './programs/bpfProgram.js';
export {
  Attachment, attachSocketFilter, openRawPacketSocket, PacketSocket, attachXdp, detachXdp, attachTracepoint,
  attachRawTracepoint, attachKprobe, kprobeSupport, tracefsRoot, attachCgroup, attachFromSection, attachTc, findCgroup2,
  type AttachKind, type AttachVia, type PerfAttachOptions, type ProgramRef, type SocketRef, type XdpOptions, type CgroupAttachType,
  type CgroupOptions, type TcDirection, type TcOptions,
} from './attach/index.js';
export { attachPerfEvent, type PerfEventOptions } from './attach/index.js';
export { attachBtfProgram, openIterator, readIterator, type BtfAttachOptions } from './attach/index.js';
export {
  attachUprobe, attachUprobeMulti, attachKprobeMulti, attachKsyscall, resolveBinaryPath, syscallFunctionName, type UprobeOptions,
  type UprobeMultiOptions, type KprobeOptions, type KprobeMultiOptions, attachUsdt, type UsdtOptions,
} from './attach/index.js';

// events to user space
export {
  EventReader, openPerfEventReader, openRingBufferReader, type PerfRecord, type PerfEventReader, type PerfEventReaderOptions,
  type RingBufferRecord, type RingBufferReader,
} from './events/index.js';

// pinning
export { unpinDirectory, isBpffs, DEFAULT_BPFFS, type UnpinResult } from './bpffs/bpffs.js';
export { PIN_NONE, PIN_OBJECT_NS, PIN_GLOBAL_NS } from './pinning/tcLayout.js';

// sharing map fds over a Unix socket, in tc's format
export {
  exportMaps, receiveMaps, type ExportMapsOptions, type MapSource, type ReceiveMapsOptions, type ReceivedMap, type ReceivedMaps,
  type TcMapEntry,
} from './share/index.js';

// maps as Prometheus metrics (ebpf_exporter's config format, through prom-client)
export {
  registerMapMetrics, readMetricsConfig, parseMetricsConfig, checkMetricsConfig, DECODER_NAMES, DROPPED_SERIES_METRIC,
  type MapMetricsConfig, type CounterMetricConfig, type HistogramMetricConfig, type HistogramBucketType, type MetricLabelConfig,
  type MetricDecoderConfig, type DecoderName, type MapMetricsHandle, type MapMetricsSource, type RegisterMapMetricsOptions,
} from './metrics/index.js';

// errors
export {
  LoadError, MapError, ProgramLoadError, isBpfLoadError, errorCategory, ERROR_CATEGORIES,
  type BpfLoadErrorCode, type ErrorCategory, type LoadErrorContext,
} from './errors.js';
export { ElfError } from '../elf/index.js';
export { SyscallError, NotSupportedError, NetlinkError, ClosedFdError } from '../syscall/index.js';
// what this kernel can do, probed once per process
export { haveFeature, haveMapType, haveProgType, FEATURES, type FeatureName } from '../syscall/index.js';

// kernel constants and names, as the uapi spells them
export {
  BPF_MAP_TYPE, BPF_PROG_TYPE, BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK, BPF_F_NO_PREALLOC, BPF_F_NO_COMMON_LRU,
  BPF_F_NUMA_NODE, BPF_F_RDONLY, BPF_F_WRONLY, BPF_CGROUP_ATTACH_TYPE, BPF_F_ALLOW_MULTI, BPF_F_ALLOW_OVERRIDE,
  mapTypeName, progTypeName, type MapInfo, type ProgInfo, PERF_TYPE_HARDWARE, PERF_TYPE_SOFTWARE, PERF_COUNT_SW,
} from '../syscall/index.js';
