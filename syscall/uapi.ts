// Numbers from include/uapi/linux/bpf.h, spelled as there so they can be grepped.

export const BPF_MAP_CREATE = 0;
export const BPF_MAP_LOOKUP_ELEM = 1;
export const BPF_MAP_UPDATE_ELEM = 2;
export const BPF_MAP_DELETE_ELEM = 3;
export const BPF_MAP_GET_NEXT_KEY = 4;
export const BPF_PROG_LOAD = 5;
export const BPF_OBJ_PIN = 6;
export const BPF_OBJ_GET = 7;
export const BPF_PROG_ATTACH = 8;
export const BPF_PROG_DETACH = 9;
export const BPF_PROG_GET_FD_BY_ID = 13;
export const BPF_MAP_GET_FD_BY_ID = 14;
export const BPF_OBJ_GET_INFO_BY_FD = 15;
export const BPF_RAW_TRACEPOINT_OPEN = 17;
export const BPF_MAP_LOOKUP_AND_DELETE_ELEM = 21;
export const BPF_MAP_LOOKUP_BATCH = 24;
export const BPF_MAP_LOOKUP_AND_DELETE_BATCH = 25;
export const BPF_MAP_UPDATE_BATCH = 26;
export const BPF_MAP_DELETE_BATCH = 27;
export const BPF_LINK_CREATE = 28;
export const BPF_LINK_UPDATE = 29;
export const BPF_LINK_GET_FD_BY_ID = 30;
export const BPF_LINK_DETACH = 34;

export const COMMAND_NAMES: Record<number, string> = {
  0: 'BPF_MAP_CREATE', 1: 'BPF_MAP_LOOKUP_ELEM', 2: 'BPF_MAP_UPDATE_ELEM', 3: 'BPF_MAP_DELETE_ELEM',
  4: 'BPF_MAP_GET_NEXT_KEY', 5: 'BPF_PROG_LOAD', 6: 'BPF_OBJ_PIN', 7: 'BPF_OBJ_GET', 8: 'BPF_PROG_ATTACH',
  9: 'BPF_PROG_DETACH', 13: 'BPF_PROG_GET_FD_BY_ID', 14: 'BPF_MAP_GET_FD_BY_ID', 15: 'BPF_OBJ_GET_INFO_BY_FD',
  17: 'BPF_RAW_TRACEPOINT_OPEN', 21: 'BPF_MAP_LOOKUP_AND_DELETE_ELEM', 24: 'BPF_MAP_LOOKUP_BATCH',
  25: 'BPF_MAP_LOOKUP_AND_DELETE_BATCH', 26: 'BPF_MAP_UPDATE_BATCH', 27: 'BPF_MAP_DELETE_BATCH', 28: 'BPF_LINK_CREATE',
  29: 'BPF_LINK_UPDATE', 30: 'BPF_LINK_GET_FD_BY_ID', 34: 'BPF_LINK_DETACH',
};

// map_flags
export const BPF_F_NO_PREALLOC = 1 << 0;
export const BPF_F_NO_COMMON_LRU = 1 << 1;
export const BPF_F_NUMA_NODE = 1 << 2;
export const BPF_F_RDONLY = 1 << 3;
export const BPF_F_WRONLY = 1 << 4;

// update flags
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
export const BPF_F_LOCK = 4;

export const BPF_OBJ_NAME_LEN = 16;

/** enum bpf_attach_type: the values BPF_PROG_ATTACH and BPF_LINK_CREATE take here */
export const BPF_ATTACH_TYPE = {
  CGROUP_INET_INGRESS: 0,
  CGROUP_INET_EGRESS: 1,
  CGROUP_INET_SOCK_CREATE: 2,
  CGROUP_SOCK_OPS: 3,
  TRACE_RAW_TP: 23,
  XDP: 37,
  PERF_EVENT: 41,
  TCX_INGRESS: 46,
  TCX_EGRESS: 47,
} as const;

/** The cgroup hooks by the names attachCgroup() takes */
export const BPF_CGROUP_ATTACH_TYPE = {
  inet_ingress: BPF_ATTACH_TYPE.CGROUP_INET_INGRESS,
  inet_egress: BPF_ATTACH_TYPE.CGROUP_INET_EGRESS,
  inet_sock_create: BPF_ATTACH_TYPE.CGROUP_INET_SOCK_CREATE,
  sock_ops: BPF_ATTACH_TYPE.CGROUP_SOCK_OPS,
} as const;

/** BPF_PROG_ATTACH flags: other programs on the same cgroup and hook keep running (MULTI), or may replace this one (OVERRIDE) */
export const BPF_F_ALLOW_OVERRIDE = 1 << 0;
export const BPF_F_ALLOW_MULTI = 1 << 1;

export const BPF_MAP_TYPE = {
  UNSPEC: 0, HASH: 1, ARRAY: 2, PROG_ARRAY: 3, PERF_EVENT_ARRAY: 4, PERCPU_HASH: 5, PERCPU_ARRAY: 6,
  STACK_TRACE: 7, CGROUP_ARRAY: 8, LRU_HASH: 9, LRU_PERCPU_HASH: 10, LPM_TRIE: 11, ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13, DEVMAP: 14, SOCKMAP: 15, CPUMAP: 16, XSKMAP: 17, SOCKHASH: 18, CGROUP_STORAGE: 19,
  REUSEPORT_SOCKARRAY: 20, PERCPU_CGROUP_STORAGE: 21, QUEUE: 22, STACK: 23, SK_STORAGE: 24, DEVMAP_HASH: 25,
  STRUCT_OPS: 26, RINGBUF: 27, INODE_STORAGE: 28, TASK_STORAGE: 29, BLOOM_FILTER: 30, USER_RINGBUF: 31,
  CGRP_STORAGE: 32, ARENA: 33,
} as const;

export const BPF_PROG_TYPE = {
  UNSPEC: 0, SOCKET_FILTER: 1, KPROBE: 2, SCHED_CLS: 3, SCHED_ACT: 4, TRACEPOINT: 5, XDP: 6, PERF_EVENT: 7,
  CGROUP_SKB: 8, CGROUP_SOCK: 9, LWT_IN: 10, LWT_OUT: 11, LWT_XMIT: 12, SOCK_OPS: 13, SK_SKB: 14,
  CGROUP_DEVICE: 15, SK_MSG: 16, RAW_TRACEPOINT: 17, CGROUP_SOCK_ADDR: 18, LWT_SEG6LOCAL: 19, LIRC_MODE2: 20,
  SK_REUSEPORT: 21, FLOW_DISSECTOR: 22, CGROUP_SYSCTL: 23, RAW_TRACEPOINT_WRITABLE: 24, CGROUP_SOCKOPT: 25,
  TRACING: 26, STRUCT_OPS: 27, EXT: 28, LSM: 29, SK_LOOKUP: 30, SYSCALL: 31, NETFILTER: 32,
} as const;

function invert(table: Record<string, number>): Record<number, string> {
  return Object.fromEntries(Object.entries(table).map(([name, value]) => [value, name]));
}

const MAP_TYPE_NAMES = invert(BPF_MAP_TYPE);
const PROG_TYPE_NAMES = invert(BPF_PROG_TYPE);

/**
 * `hash`, `percpu_array`… as bpftool spells them; the bare number for a type
 * this table does not know, so `type ${mapTypeName(t)}` reads right either way.
 */
export function mapTypeName(type: number): string {
  const name = MAP_TYPE_NAMES[type];
  return name ? name.toLowerCase() : String(type);
}

/** Like mapTypeName: bpftool's spelling, or the bare number. */
export function progTypeName(type: number): string {
  const name = PROG_TYPE_NAMES[type];
  return name ? name.toLowerCase() : String(type);
}

export function commandName(cmd: number): string {
  return COMMAND_NAMES[cmd] ?? `bpf command ${cmd}`;
}

/** Map types whose values are one slot per possible CPU. */
export function isPerCpuMapType(type: number): boolean {
  return (
    type === BPF_MAP_TYPE.PERCPU_HASH ||
    type === BPF_MAP_TYPE.PERCPU_ARRAY ||
    type === BPF_MAP_TYPE.LRU_PERCPU_HASH ||
    type === BPF_MAP_TYPE.PERCPU_CGROUP_STORAGE
  );
}

export function isMapInMapType(type: number): boolean {
  return type === BPF_MAP_TYPE.ARRAY_OF_MAPS || type === BPF_MAP_TYPE.HASH_OF_MAPS;
}
