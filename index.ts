// bpf-load: load samples/bpf-style eBPF objects from Node.js.
export { loadBpfFile, loadBpfFileSync, loadBpfObject } from './loader/loadBpfFile.js';
export { BpfObject } from './loader/bpfObject.js';
export { BpfMap } from './loader/bpfMap.js';
export { BpfProgram } from './loader/bpfProgram.js';
export type { LoadOptions } from './loader/options.js';
export type { MapData, FixupMap } from './loader/createMaps.js';
export { LoadError, isBpfLoadError } from './loader/errors.js';
export { parseObject, ElfError } from './elf/index.js';
export type { ObjectSpec, MapSpec, MapDef, ProgramSpec, TcMapFields, MapConvention } from './elf/index.js';
export { SyscallError, BPF_MAP_TYPE, BPF_PROG_TYPE, BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK, BPF_F_NO_PREALLOC, BPF_F_NUMA_NODE, BPF_F_RDONLY, BPF_F_WRONLY, mapTypeName, progTypeName } from './syscall/index.js';
