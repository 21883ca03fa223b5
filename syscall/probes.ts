import { bpfCommand } from './bpfCommand.js';
import {
  btfLoadAttr, infoAttr, linkCreateAttr, linkCreateKprobeMultiAttr, linkCreateUprobeMultiAttr, linkInfo, mapCreateAttr, progLoadAttr,
  rawTracepointAttr,
} from './attrCodecs.js';
import { addressOf, attr, bpfSyscallGeneration } from './native.js';
import { BpfFd } from './fd.js';
import { NotSupportedError, SyscallError } from './errors.js';
import { errno as E } from './errno.js';
import { MapBatchOps } from './mapOps.js';
import { pageSize } from './mmap.js';
import { HOST_LITTLE_ENDIAN } from './structCodec.js';
import { toCString } from './cString.js';
import {
  BPF_BTF_LOAD, BPF_LINK_CREATE, BPF_MAP_CREATE, BPF_MAP_LOOKUP_BATCH, BPF_OBJ_GET_INFO_BY_FD, BPF_PROG_LOAD, BPF_RAW_TRACEPOINT_OPEN,
} from '../uapi/commands.js';
import {
  BPF_ATTACH_TYPE, BPF_F_MMAPABLE, BPF_F_NO_PREALLOC, BPF_F_RDONLY_PROG, BPF_F_SLEEPABLE, BPF_LINK_TYPE, BPF_MAP_TYPE,
  BPF_PROG_TYPE, XDP_FLAGS_DRV_MODE,
} from '../uapi/bpf.js';
import {
  BPF_ALU64, BPF_DW, BPF_EXIT, BPF_K, BPF_LD_IMM64, BPF_MEM, BPF_MOV, BPF_PSEUDO_MAP_VALUE, BPF_ST, INSN_SIZE,
} from '../uapi/opcodes.js';
import {
  BTF_HEADER_SIZE, BTF_KIND_DATASEC, BTF_KIND_DECL_TAG, BTF_KIND_ENUM64, BTF_KIND_FLOAT, BTF_KIND_FUNC,
  BTF_KIND_FUNC_PROTO, BTF_KIND_INT, BTF_KIND_PTR, BTF_KIND_STRUCT, BTF_KIND_TYPE_TAG, BTF_KIND_VAR, BTF_MAGIC,
  BTF_VAR_GLOBAL_ALLOCATED, BTF_VERSION, btfInfo, btfIntData, BTF_INT_SIGNED,
} from '../uapi/btf.js';
import { commandName, mapTypeName, progTypeName } from '../uapi/names.js';

/**
 * What this kernel can do, asked once per process with tiny system calls (a
 * one-entry map, a two-instruction program, a few bytes of BTF) as libbpf
 * and cilium/ebpf do: a refused command is then told apart from a kernel too
 * old for it, and reported as "this kernel has no X (needs Linux >= N)".
 * A probe answers true or false; a refusal that says nothing about the
 * feature (EPERM: not root) is thrown, and not remembered.
 */

export interface Feature {
  /** what the kernel lacks, as the message says it */
  readonly description: string;
  /** the first Linux release that has it */
  readonly minLinux: string;
  /** one tiny system call: true when the kernel has the feature */
  readonly probe: () => boolean;
}


/** The errnos with which a kernel refuses what it does not know (an unknown command, type, flag or attr field). */
const UNKNOWN = new Set<number>([E.EINVAL, E.E2BIG, E.ENOTSUPP, E.EOPNOTSUPP]);

/** Run `call`; its fd (if any) is closed at once. False for an errno in `no`, true for success or an errno in `yes`. */
function answer(call: () => BpfFd | number, no: ReadonlySet<number> = UNKNOWN, yes: ReadonlySet<number> = new Set()): boolean {
  let fd: BpfFd | number;
  try {
    fd = call();
  } catch (error) {
    if (!(error instanceof SyscallError)) throw error;
    if (yes.has(error.errno)) return true;
    if (no.has(error.errno)) return false;
    throw error;
  }
  if (fd instanceof BpfFd) fd.close();
  else if (fd > 0) new BpfFd(fd).close();
  return true;
}

interface MapProbe {
  map_type: number;
  key_size?: number;
  value_size?: number;
  max_entries?: number;
  map_flags?: number;
  inner_map_fd?: number;
  btf_fd?: number;
  btf_key_type_id?: number;
  btf_value_type_id?: number;
  btf_vmlinux_value_type_id?: number;
}

function createMap(a: MapProbe): BpfFd {
  const size = mapCreateAttr.encode(attr, { key_size: 4, value_size: 4, max_entries: 1, ...a });
  return new BpfFd(bpfCommand(BPF_MAP_CREATE, size));
}

/** Two instructions: r0 = 0; exit — the smallest program every type accepts. */
const RETURN_ZERO = insns([[BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0], [BPF_EXIT, 0, 0, 0, 0]]);

function insns(list: readonly (readonly [code: number, dst: number, src: number, off: number, imm: number])[]): Buffer {
  const out = Buffer.alloc(list.length * INSN_SIZE);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  list.forEach(([code, dst, src, off, imm], i) => {
    view.setUint8(i * INSN_SIZE, code);
    // dst_reg and src_reg share a byte, in the order of the host's bitfields
    view.setUint8(i * INSN_SIZE + 1, HOST_LITTLE_ENDIAN ? (src << 4) | dst : (dst << 4) | src);
    view.setInt16(i * INSN_SIZE + 2, off, HOST_LITTLE_ENDIAN);
    view.setInt32(i * INSN_SIZE + 4, imm, HOST_LITTLE_ENDIAN);
  });
  return out;
}

interface ProgProbe {
  prog_type: number;
  insns?: Buffer;
  expected_attach_type?: number;
  attach_btf_id?: number;
  prog_flags?: number;
  log?: Buffer;
}

function loadProgram(p: ProgProbe): BpfFd {
  const code = p.insns ?? RETURN_ZERO;
  const license = toCString('GPL', 'latin1');
  if (p.log) p.log.fill(0, 0, 1);
  const size = progLoadAttr.encode(attr, {
    prog_type: p.prog_type,
    insn_cnt: code.byteLength / INSN_SIZE,
    insns: addressOf(code),
    license: addressOf(license),
    expected_attach_type: p.expected_attach_type,
    attach_btf_id: p.attach_btf_id,
    prog_flags: p.prog_flags,
    log_level: p.log ? 1 : 0,
    log_size: p.log?.byteLength ?? 0,
    log_buf: p.log ? addressOf(p.log) : 0n,
  });
  return new BpfFd(bpfCommand(BPF_PROG_LOAD, size));
}

/** One BTF type: its kind, vlen and size-or-type, then the words that follow it. */
type BtfType = readonly [nameOff: number, kind: number, vlen: number, sizeOrType: number, ...rest: number[]];

/** A .BTF blob in host order: a header, the types as u32 words, the string section. */
export function btfBlob(types: readonly BtfType[], strings: string, kindFlags: ReadonlySet<number> = new Set()): Buffer {
  const words = types.flatMap(([nameOff, kind, vlen, sizeOrType, ...rest], i) => [nameOff, btfInfo(kind, vlen, kindFlags.has(i)), sizeOrType, ...rest]);
  const strs = Buffer.from(`\0${strings}\0`, 'latin1');
  const out = Buffer.alloc(BTF_HEADER_SIZE + words.length * 4 + strs.byteLength);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const le = HOST_LITTLE_ENDIAN;
  view.setUint16(0, BTF_MAGIC, le);
  view.setUint8(2, BTF_VERSION);
  view.setUint32(4, BTF_HEADER_SIZE, le);
  view.setUint32(8, 0, le);
  view.setUint32(12, words.length * 4, le);
  view.setUint32(16, words.length * 4, le);
  view.setUint32(20, strs.byteLength, le);
  words.forEach((word, i) => view.setUint32(BTF_HEADER_SIZE + i * 4, word >>> 0, le));
  strs.copy(out, BTF_HEADER_SIZE + words.length * 4);
  return out;
}

function loadBtf(blob: Buffer): BpfFd {
  const size = btfLoadAttr.encode(attr, { btf: addressOf(blob), btf_size: blob.byteLength });
  return new BpfFd(bpfCommand(BPF_BTF_LOAD, size));
}

// string offsets in the blobs below: "\0int\0x\0.data\0tag\0f\0"
const S_INT = 1;
const S_X = 5;
const S_DATA = 7;
const S_TAG = 13;
const S_F = 17;
const STRINGS = 'int\0x\0.data\0tag\0f';
/** [1] int: 32 bits, signed */
const INT: BtfType = [S_INT, BTF_KIND_INT, 0, 4, btfIntData(BTF_INT_SIGNED, 0, 32)];

const probeBtf = (types: readonly BtfType[]) => () => answer(() => loadBtf(btfBlob(types, STRINGS)));

/** The features probed by name. */
export const FEATURES = {
  btf: { description: 'BTF (BPF_BTF_LOAD)', minLinux: '4.18', probe: probeBtf([INT]) },
  btfFunc: {
    description: 'BTF functions (BTF_KIND_FUNC)', minLinux: '5.0',
    // [2] int (void), [3] static f
    probe: probeBtf([INT, [0, BTF_KIND_FUNC_PROTO, 0, 1], [S_F, BTF_KIND_FUNC, 0, 2]]),
  },
  btfDatasec: {
    description: 'BTF data sections (BTF_KIND_DATASEC)', minLinux: '5.2',
    // [2] int x, [3] .data { x at 0, 4 bytes }
    probe: probeBtf([INT, [S_X, BTF_KIND_VAR, 0, 1, BTF_VAR_GLOBAL_ALLOCATED], [S_DATA, BTF_KIND_DATASEC, 1, 4, 2, 0, 4]]),
  },
  btfFloat: { description: 'BTF floats (BTF_KIND_FLOAT)', minLinux: '5.13', probe: probeBtf([[S_X, BTF_KIND_FLOAT, 0, 4]]) },
  btfDeclTag: {
    description: 'BTF declaration tags (BTF_KIND_DECL_TAG)', minLinux: '5.16',
    // [2] int x, [3] tag on x itself (component -1)
    probe: probeBtf([INT, [S_X, BTF_KIND_VAR, 0, 1, BTF_VAR_GLOBAL_ALLOCATED], [S_TAG, BTF_KIND_DECL_TAG, 0, 2, -1]]),
  },
  btfTypeTag: {
    description: 'BTF type tags (BTF_KIND_TYPE_TAG)', minLinux: '5.17',
    // [2] tag int, [3] pointer to it
    probe: probeBtf([INT, [S_TAG, BTF_KIND_TYPE_TAG, 0, 1], [0, BTF_KIND_PTR, 0, 2]]),
  },
  btfEnum64: {
    description: '64-bit BTF enums (BTF_KIND_ENUM64)', minLinux: '6.0',
    // enum f : 8 bytes { x = 1 }
    probe: probeBtf([[S_F, BTF_KIND_ENUM64, 1, 8, S_X, 1, 0]]),
  },
  mmapableArray: {
    description: 'mmapable array maps (BPF_F_MMAPABLE)', minLinux: '5.5',
    probe: () => answer(() => createMap({ map_type: BPF_MAP_TYPE.ARRAY, map_flags: BPF_F_MMAPABLE })),
  },
  rdonlyProgMaps: {
    description: 'maps read-only to programs (BPF_F_RDONLY_PROG)', minLinux: '5.2',
    probe: () => answer(() => createMap({ map_type: BPF_MAP_TYPE.ARRAY, map_flags: BPF_F_RDONLY_PROG })),
  },
  batchOps: {
    description: 'batch map operations (BPF_MAP_LOOKUP_BATCH)', minLinux: '5.6',
    probe: () => {
      const map = createMap({ map_type: BPF_MAP_TYPE.HASH });
      try {
        // an empty hash: a kernel with batches says ENOENT (nothing more), one without EINVAL
        const ret = new MapBatchOps(4, 4, 1).mapLookupBatch(map.fd, true);
        if (ret >= 0 || ret === -E.ENOENT) return true;
        if (UNKNOWN.has(-ret)) return false;
        throw new SyscallError(commandName(BPF_MAP_LOOKUP_BATCH), -ret);
      } finally {
        map.close();
      }
    },
  },
  ringbuf: {
    description: 'ring buffer maps (BPF_MAP_TYPE_RINGBUF)', minLinux: '5.8',
    probe: () => haveMapType(BPF_MAP_TYPE.RINGBUF),
  },
  globalData: {
    description: 'global data (BPF_PSEUDO_MAP_VALUE)', minLinux: '5.2',
    probe: () => {
      const map = createMap({ map_type: BPF_MAP_TYPE.ARRAY, value_size: 8 });
      try {
        // r1 = &map[0]; *(u64 *)(r1 + 0) = 42; r0 = 0; exit
        const code = insns([
          [BPF_LD_IMM64, 1, BPF_PSEUDO_MAP_VALUE, 0, map.fd], [0, 0, 0, 0, 0],
          [BPF_ST | BPF_MEM | BPF_DW, 1, 0, 0, 42],
          [BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0], [BPF_EXIT, 0, 0, 0, 0],
        ]);
        return answer(() => loadProgram({ prog_type: BPF_PROG_TYPE.SOCKET_FILTER, insns: code }));
      } finally {
        map.close();
      }
    },
  },
  cgroupLink: {
    description: 'cgroup links (BPF_LINK_CREATE)', minLinux: '5.7',
    // a bad cgroup fd: EBADF once the kernel looks for it, EINVAL when it does not know the command
    probe: () => probeLink(BPF_PROG_TYPE.CGROUP_SKB, BPF_ATTACH_TYPE.CGROUP_INET_INGRESS, 0xffffffff, 0, E.EBADF, BPF_ATTACH_TYPE.CGROUP_INET_INGRESS),
  },
  xdpLink: {
    description: 'XDP links', minLinux: '5.9',
    // native mode on lo, which has no native XDP: EOPNOTSUPP from a kernel with XDP links, before anything is attached
    probe: () => probeLink(BPF_PROG_TYPE.XDP, BPF_ATTACH_TYPE.XDP, 1, XDP_FLAGS_DRV_MODE, E.EOPNOTSUPP, BPF_ATTACH_TYPE.XDP),
  },
  tcxLink: {
    description: 'TCX links', minLinux: '6.6',
    // no such interface: ENODEV from a kernel with TCX, EINVAL from one without
    probe: () => probeLink(BPF_PROG_TYPE.SCHED_CLS, BPF_ATTACH_TYPE.TCX_INGRESS, 0xffffffff, 0, E.ENODEV, BPF_ATTACH_TYPE.TCX_INGRESS),
  },
  perfEventLink: {
    description: 'perf event links (BPF_PERF_EVENT)', minLinux: '5.15',
    // not a perf event fd: EBADF from a kernel with perf links, EINVAL from one without
    probe: () => probeLink(BPF_PROG_TYPE.TRACEPOINT, BPF_ATTACH_TYPE.PERF_EVENT, 0xffffffff, 0, E.EBADF),
  },
  uprobeMultiLink: {
    description: 'uprobe_multi links (BPF_TRACE_UPROBE_MULTI)', minLinux: '6.6',
    // '/' is no regular file: EBADF from a kernel with uprobe_multi links (libbpf's probe), EINVAL or EOPNOTSUPP without
    probe: () => probeMultiLink(BPF_ATTACH_TYPE.TRACE_UPROBE_MULTI, (progFd, keep) => {
      const path = toCString('/');
      const offsets = Buffer.alloc(8);
      keep.push(path, offsets);
      return linkCreateUprobeMultiAttr.encode(attr, {
        prog_fd: progFd, attach_type: BPF_ATTACH_TYPE.TRACE_UPROBE_MULTI, path: addressOf(path), offsets: addressOf(offsets), cnt: 1,
      });
    }, E.EBADF),
  },
  kprobeMultiLink: {
    description: 'kprobe_multi links (BPF_TRACE_KPROBE_MULTI, CONFIG_FPROBE)', minLinux: '5.18',
    // a function no kernel has: ENOENT from a kernel with kprobe_multi links, EOPNOTSUPP without CONFIG_FPROBE, EINVAL before 5.18
    probe: () => probeMultiLink(BPF_ATTACH_TYPE.TRACE_KPROBE_MULTI, (progFd, keep) => {
      const name = toCString('bpf_load_no_such_function', 'latin1');
      // one char * in the host's order
      const syms = Buffer.from(new BigUint64Array([addressOf(name)]).buffer);
      keep.push(name, syms);
      return linkCreateKprobeMultiAttr.encode(attr, {
        prog_fd: progFd, attach_type: BPF_ATTACH_TYPE.TRACE_KPROBE_MULTI, syms: addressOf(syms), cnt: 1,
      });
    }, E.ENOENT),
  },
  tracingLink: {
    description: 'raw tracepoint links with link info', minLinux: '5.8',
    probe: () => {
      const prog = loadProgram({ prog_type: BPF_PROG_TYPE.RAW_TRACEPOINT });
      const name = toCString('sched_process_free', 'latin1');
      try {
        const size = rawTracepointAttr.encode(attr, { name: addressOf(name), prog_fd: prog.fd });
        const link = new BpfFd(bpfCommand(BPF_RAW_TRACEPOINT_OPEN, size));
        try {
          const info = linkInfo.alloc();
          const infoSize = infoAttr.encode(attr, { bpf_fd: link.fd, info_len: info.byteLength, info: addressOf(info) });
          return answer(() => bpfCommand(BPF_OBJ_GET_INFO_BY_FD, infoSize)) && linkInfo.get(info, 'type') === BPF_LINK_TYPE.RAW_TRACEPOINT;
        } finally {
          link.close();
        }
      } finally {
        prog.close();
      }
    },
  },
} as const satisfies Record<string, Feature>;

export type FeatureName = keyof typeof FEATURES;

function probeLink(progType: number, attachType: number, target: number, flags: number, yes: number, expectedAttachType?: number): boolean {
  const prog = loadProgram({ prog_type: progType, ...(expectedAttachType === undefined ? {} : { expected_attach_type: expectedAttachType }) });
  try {
    const size = linkCreateAttr.encode(attr, { prog_fd: prog.fd, target_fd: target, attach_type: attachType, flags });
    return answer(() => bpfCommand(BPF_LINK_CREATE, size), new Set([E.EINVAL]), new Set([yes]));
  } finally {
    prog.close();
  }
}

/**
 * A kprobe program loaded for a multi-probe attach type, then a link of it
 * that the kernel refuses one way when it has such links and another when
 * it does not. `encode` writes the attr (keeping what it points at alive in `keep`).
 */
function probeMultiLink(attachType: number, encode: (progFd: number, keep: Buffer[]) => number, yes: number): boolean {
  let prog: BpfFd;
  try {
    prog = loadProgram({ prog_type: BPF_PROG_TYPE.KPROBE, expected_attach_type: attachType });
  } catch (error) {
    if (error instanceof SyscallError && UNKNOWN.has(error.errno)) return false;
    throw error;
  }
  try {
    const keep: Buffer[] = [];
    const size = encode(prog.fd, keep);
    const known = answer(() => bpfCommand(BPF_LINK_CREATE, size), UNKNOWN, new Set([yes]));
    void keep;
    return known;
  } finally {
    prog.close();
  }
}

/** The first Linux release of each map type and program type, for the messages. */
const MAP_TYPE_SINCE: Readonly<Record<number, string>> = {
  1: '3.19', 2: '3.19', 3: '4.2', 4: '4.3', 5: '4.6', 6: '4.6', 7: '4.6', 8: '4.8', 9: '4.10', 10: '4.10', 11: '4.11',
  12: '4.12', 13: '4.12', 14: '4.14', 15: '4.14', 16: '4.15', 17: '4.18', 18: '4.18', 19: '4.19', 20: '4.19', 21: '4.20',
  22: '4.20', 23: '4.20', 24: '5.2', 25: '5.4', 26: '5.6', 27: '5.8', 28: '5.10', 29: '5.11', 30: '5.16', 31: '6.1',
  32: '6.2', 33: '6.9',
};
const PROG_TYPE_SINCE: Readonly<Record<number, string>> = {
  1: '3.19', 2: '4.1', 3: '4.1', 4: '4.1', 5: '4.7', 6: '4.8', 7: '4.9', 8: '4.10', 9: '4.10', 10: '4.10', 11: '4.10',
  12: '4.10', 13: '4.13', 14: '4.14', 15: '4.15', 16: '4.17', 17: '4.17', 18: '4.17', 19: '4.18', 20: '4.18', 21: '4.19',
  22: '4.20', 23: '5.2', 24: '5.2', 25: '5.3', 26: '5.5', 27: '5.6', 28: '5.6', 29: '5.7', 30: '5.9', 31: '5.14', 32: '6.4',
};

const STORAGE_MAPS = new Set<number>([BPF_MAP_TYPE.SK_STORAGE, BPF_MAP_TYPE.INODE_STORAGE, BPF_MAP_TYPE.TASK_STORAGE, BPF_MAP_TYPE.CGRP_STORAGE]);

/** The map probe of one type: a map as small as that type allows. */
function probeMapType(type: number): boolean {
  const T = BPF_MAP_TYPE;
  switch (type) {
    case T.ARRAY_OF_MAPS:
    case T.HASH_OF_MAPS: {
      const inner = createMap({ map_type: T.ARRAY });
      try {
        return answer(() => createMap({ map_type: type, inner_map_fd: inner.fd }));
      } finally {
        inner.close();
      }
    }
    case T.STACK_TRACE: return answer(() => createMap({ map_type: type, value_size: 8 }));
    case T.LPM_TRIE: return answer(() => createMap({ map_type: type, key_size: 8, map_flags: BPF_F_NO_PREALLOC }));
    case T.QUEUE:
    case T.STACK:
    case T.BLOOM_FILTER: return answer(() => createMap({ map_type: type, key_size: 0 }));
    case T.RINGBUF:
    case T.USER_RINGBUF: return answer(() => createMap({ map_type: type, key_size: 0, value_size: 0, max_entries: pageSize() }));
    case T.ARENA: return answer(() => createMap({ map_type: type, key_size: 0, value_size: 0, map_flags: BPF_F_MMAPABLE }));
    case T.CGROUP_STORAGE:
    case T.PERCPU_CGROUP_STORAGE: return answer(() => createMap({ map_type: type, key_size: 16, value_size: 8, max_entries: 0 }));
    // a kernel with struct_ops maps refuses a made-up vmlinux type with ENOTSUPP, one without with EINVAL
    case T.STRUCT_OPS: return answer(() => createMap({ map_type: type, btf_vmlinux_value_type_id: 1 }), new Set([E.EINVAL]), new Set([E.ENOTSUPP]));
    default:
      if (STORAGE_MAPS.has(type)) return probeStorageMap(type);
      return answer(() => createMap({ map_type: type }));
  }
}

/** Local storage maps need BTF for their value: [1] int, [2] struct { int x; }. */
function probeStorageMap(type: number): boolean {
  const btf = loadBtf(btfBlob([INT, [S_X, BTF_KIND_STRUCT, 1, 4, S_X, 1, 0]], STRINGS));
  try {
    return answer(() => createMap({
      map_type: type, max_entries: 0, map_flags: BPF_F_NO_PREALLOC, btf_fd: btf.fd, btf_key_type_id: 1, btf_value_type_id: 2,
    }));
  } finally {
    btf.close();
  }
}

/**
 * The program probe of one type. Tracing, LSM, extension and struct_ops
 * programs need an attach point: the probe names a BTF id that is none, and
 * the verifier's complaint about it (libbpf's way) says the type is known.
 */
function probeProgType(type: number): boolean {
  const T = BPF_PROG_TYPE;
  const A = BPF_ATTACH_TYPE;
  const withLog = (p: ProgProbe, expected: string): boolean => {
    const log = Buffer.alloc(4096);
    try {
      loadProgram({ ...p, log }).close();
      return true;
    } catch (error) {
      if (!(error instanceof SyscallError)) throw error;
      if (log.toString('latin1', 0, Math.max(0, log.indexOf(0))).includes(expected)) return true;
      if (UNKNOWN.has(error.errno)) return false;
      throw error;
    }
  };
  switch (type) {
    case T.TRACING: return withLog({ prog_type: type, expected_attach_type: A.TRACE_FENTRY, attach_btf_id: 1 }, 'attach_btf_id 1 is not a function');
    case T.LSM: return withLog({ prog_type: type, expected_attach_type: A.LSM_MAC, attach_btf_id: 1 }, 'attach_btf_id 1 is not a function');
    case T.EXT: return withLog({ prog_type: type, attach_btf_id: 1 }, 'Cannot replace kernel functions');
    case T.STRUCT_OPS: return withLog({ prog_type: type, attach_btf_id: 1 }, 'attach_btf_id 1 is not a supported struct');
    case T.SYSCALL: return answer(() => loadProgram({ prog_type: type, prog_flags: BPF_F_SLEEPABLE }));
    case T.NETFILTER: return answer(() => loadProgram({ prog_type: type, expected_attach_type: A.NETFILTER }));
    case T.CGROUP_SOCK_ADDR: return answer(() => loadProgram({ prog_type: type, expected_attach_type: A.CGROUP_INET4_CONNECT }));
    case T.CGROUP_SOCKOPT: return answer(() => loadProgram({ prog_type: type, expected_attach_type: A.CGROUP_GETSOCKOPT }));
    case T.SK_LOOKUP: return answer(() => loadProgram({ prog_type: type, expected_attach_type: A.SK_LOOKUP }));
    default: return answer(() => loadProgram({ prog_type: type }));
  }
}

const answers = new Map<string, boolean>();
let answersOf = bpfSyscallGeneration();
let running = 0;

function cached(key: string, probe: () => boolean): boolean {
  // a faked bpf(2) (tests) has its own answers: none are kept across a change of it
  if (answersOf !== bpfSyscallGeneration()) {
    answers.clear();
    answersOf = bpfSyscallGeneration();
  }
  let known = answers.get(key);
  if (known === undefined) {
    running++;
    try {
      known = probe();
    } finally {
      running--;
    }
    answers.set(key, known);
  }
  return known;
}

/** True while a probe's system calls run: a fake bpf(2) can tell them from the calls it is asked to judge. */
export function isProbing(): boolean {
  return running > 0;
}

/** Whether this kernel has `name`, probed on the first call (then remembered for the process). */
export function haveFeature(name: FeatureName): boolean {
  return cached(name, FEATURES[name].probe);
}

/** Whether this kernel can create maps of `type`, probed on the first call. */
export function haveMapType(type: number): boolean {
  return cached(`map type ${type}`, () => probeMapType(type));
}

/** Whether this kernel can load programs of `type`, probed on the first call. */
export function haveProgType(type: number): boolean {
  return cached(`prog type ${type}`, () => probeProgType(type));
}

/** The feature's description and first Linux release, for messages. */
export function featureInfo(name: FeatureName): { description: string; minLinux: string } {
  return FEATURES[name];
}

export function mapTypeFeature(type: number): { description: string; minLinux: string } {
  return { description: `${mapTypeName(type)} maps (BPF_MAP_TYPE_${mapTypeName(type).toUpperCase()})`, minLinux: MAP_TYPE_SINCE[type] ?? 'a newer kernel' };
}

export function progTypeFeature(type: number): { description: string; minLinux: string } {
  return { description: `${progTypeName(type)} programs (BPF_PROG_TYPE_${progTypeName(type).toUpperCase()})`, minLinux: PROG_TYPE_SINCE[type] ?? 'a newer kernel' };
}

/**
 * A refused command, explained: a NotSupportedError when the probe of what
 * the command needed says this kernel lacks it, else `error` itself. Called
 * only after a refusal, so a load that works never pays for a probe; a probe
 * that cannot answer (itself refused) leaves the error as it was.
 */
export function explainRefusal(error: unknown, needs: readonly (FeatureName | { mapType: number } | { progType: number })[]): unknown {
  if (!(error instanceof SyscallError) || error instanceof NotSupportedError || !UNKNOWN.has(error.errno)) return error;
  for (const need of needs) {
    let missing: { description: string; minLinux: string } | undefined;
    try {
      if (typeof need === 'string') missing = haveFeature(need) ? undefined : featureInfo(need);
      else if ('mapType' in need) missing = haveMapType(need.mapType) ? undefined : mapTypeFeature(need.mapType);
      else missing = haveProgType(need.progType) ? undefined : progTypeFeature(need.progType);
    } catch {
      continue;
    }
    if (missing) {
      return Object.assign(new NotSupportedError(error.command, error.errno, missing.description, missing.minLinux, error.detail), { cause: error });
    }
  }
  return error;
}

/** A NotSupportedError for `name` when this kernel lacks it; undefined when it has it. */
export function notSupported(name: FeatureName, command: string): NotSupportedError | undefined {
  if (haveFeature(name)) return undefined;
  const { description, minLinux } = FEATURES[name];
  return new NotSupportedError(command, E.EINVAL, description, minLinux);
}

/** Forget every answer (tests that fake the kernel). */
export function forgetProbes(): void {
  answers.clear();
}
