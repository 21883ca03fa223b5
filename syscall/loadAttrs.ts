import { MAP_CREATE_ATTR, PROG_LOAD_ATTR } from '../uapi/attrs.js';
import type { FieldLayout } from '../uapi/layout.js';
import { attr } from './native.js';
import { HOST_LITTLE_ENDIAN, wordIndex, writeLatin1, writeU64 } from './structCodec.js';

/**
 * The attrs of BPF_MAP_CREATE and BPF_PROG_LOAD, the two commands a load
 * makes once per map and per program, written field by field at positions
 * resolved once from their uapi layouts: the same bytes StructCodec.encode
 * writes, without its walk over the values by name and a writer call per
 * field, which a load enters for every object it makes.
 */

const words = new Uint32Array(attr.buffer, attr.byteOffset, attr.byteLength >> 2);
const quads = new BigUint64Array(attr.buffer, attr.byteOffset, attr.byteLength >> 3);

/** The index of an aligned u64 or ptr field in `quads`. */
function quadIndex(field: FieldLayout): number {
  if (field.offset % 8 !== 0 || field.size !== 8) throw new TypeError(`${field.name} is not an aligned 64-bit field`);
  return field.offset / 8;
}

/** The same attr as a DataView, for StructCodec's u64 writer. */
const view = new DataView(attr.buffer, attr.byteOffset, attr.byteLength);

/** A char array's text, cut to leave its NUL (the rest of the attr is already zero). */
function writeName(field: FieldLayout, value: string | undefined): void {
  if (value !== undefined) writeLatin1(attr, field.offset, field.size - 1, value);
}

const M = MAP_CREATE_ATTR.fields;
const M_TYPE = wordIndex(M.map_type), M_KEY = wordIndex(M.key_size), M_VALUE = wordIndex(M.value_size);
const M_MAX = wordIndex(M.max_entries), M_FLAGS = wordIndex(M.map_flags), M_INNER = wordIndex(M.inner_map_fd);
const M_NUMA = wordIndex(M.numa_node), M_IFINDEX = wordIndex(M.map_ifindex), M_BTF = wordIndex(M.btf_fd);
const M_BTF_KEY = wordIndex(M.btf_key_type_id), M_BTF_VALUE = wordIndex(M.btf_value_type_id);
const M_BTF_VMLINUX = wordIndex(M.btf_vmlinux_value_type_id);
const M_END = MAP_CREATE_ATTR.end;

export interface MapCreateAttr {
  map_type: number;
  key_size: number;
  value_size: number;
  max_entries: number;
  map_flags: number;
  inner_map_fd?: number;
  /** only meaningful with BPF_F_NUMA_NODE in map_flags */
  numa_node?: number;
  /** at most 15 characters of [A-Za-z0-9_.] */
  map_name?: string;
  map_ifindex?: number;
  /** the object's BTF (a BPF_BTF_LOAD fd) and the key and value types in it */
  btf_fd?: number;
  btf_key_type_id?: number;
  btf_value_type_id?: number;
  btf_vmlinux_value_type_id?: number;
  /** bloom filter: the number of hashes; arena: the address to map at */
  map_extra?: bigint | number | undefined;
}

/** Zero the attr and write BPF_MAP_CREATE's fields; returns the size to pass. */
export function encodeMapCreate(a: MapCreateAttr): number {
  words.fill(0, 0, Math.ceil(M_END / 4));
  // a typed array's store converts as the codec's `>>> 0` does (undefined: 0)
  words[M_TYPE] = a.map_type;
  words[M_KEY] = a.key_size;
  words[M_VALUE] = a.value_size;
  words[M_MAX] = a.max_entries;
  words[M_FLAGS] = a.map_flags;
  words[M_INNER] = a.inner_map_fd as number;
  words[M_NUMA] = a.numa_node as number;
  writeName(M.map_name, a.map_name);
  words[M_IFINDEX] = a.map_ifindex as number;
  words[M_BTF] = a.btf_fd as number;
  words[M_BTF_KEY] = a.btf_key_type_id as number;
  words[M_BTF_VALUE] = a.btf_value_type_id as number;
  words[M_BTF_VMLINUX] = a.btf_vmlinux_value_type_id as number;
  if (a.map_extra !== undefined) writeU64(view, M.map_extra.offset, a.map_extra, HOST_LITTLE_ENDIAN);
  return M_END;
}

const P = PROG_LOAD_ATTR.fields;
const P_TYPE = wordIndex(P.prog_type), P_CNT = wordIndex(P.insn_cnt), P_INSNS = quadIndex(P.insns), P_LICENSE = quadIndex(P.license);
const P_LOG_LEVEL = wordIndex(P.log_level), P_LOG_SIZE = wordIndex(P.log_size), P_LOG_BUF = quadIndex(P.log_buf);
const P_KERN = wordIndex(P.kern_version), P_FLAGS = wordIndex(P.prog_flags), P_ATTACH_TYPE = wordIndex(P.expected_attach_type);
const P_BTF = wordIndex(P.prog_btf_fd), P_FUNC_SIZE = wordIndex(P.func_info_rec_size), P_FUNC = quadIndex(P.func_info);
const P_FUNC_CNT = wordIndex(P.func_info_cnt), P_LINE_SIZE = wordIndex(P.line_info_rec_size), P_LINE = quadIndex(P.line_info);
const P_LINE_CNT = wordIndex(P.line_info_cnt), P_ATTACH_BTF = wordIndex(P.attach_btf_id), P_ATTACH_PROG = wordIndex(P.attach_prog_fd);
const P_FD_ARRAY = quadIndex(P.fd_array);
const P_END = PROG_LOAD_ATTR.end;

/** BPF_PROG_LOAD's fields as progLoad() works them out: counts, sizes and addresses. */
export interface ProgLoadFields {
  prog_type: number;
  insn_cnt: number;
  insns: bigint;
  license: bigint;
  log_level: number;
  log_size: number;
  log_buf: bigint;
  kern_version: number;
  prog_flags: number | undefined;
  prog_name: string | undefined;
  expected_attach_type: number | undefined;
  prog_btf_fd: number | undefined;
  func_info_rec_size: number;
  func_info: bigint;
  func_info_cnt: number;
  line_info_rec_size: number;
  line_info: bigint;
  line_info_cnt: number;
  attach_btf_id: number | undefined;
  attach_prog_fd: number | undefined;
  fd_array: bigint;
}

/** Zero the attr and write BPF_PROG_LOAD's fields; returns the size to pass. */
export function encodeProgLoad(a: ProgLoadFields): number {
  words.fill(0, 0, Math.ceil(P_END / 4));
  words[P_TYPE] = a.prog_type;
  words[P_CNT] = a.insn_cnt;
  quads[P_INSNS] = a.insns;
  quads[P_LICENSE] = a.license;
  words[P_LOG_LEVEL] = a.log_level;
  words[P_LOG_SIZE] = a.log_size;
  quads[P_LOG_BUF] = a.log_buf;
  words[P_KERN] = a.kern_version;
  words[P_FLAGS] = a.prog_flags as number;
  writeName(P.prog_name, a.prog_name);
  words[P_ATTACH_TYPE] = a.expected_attach_type as number;
  words[P_BTF] = a.prog_btf_fd as number;
  words[P_FUNC_SIZE] = a.func_info_rec_size;
  quads[P_FUNC] = a.func_info;
  words[P_FUNC_CNT] = a.func_info_cnt;
  words[P_LINE_SIZE] = a.line_info_rec_size;
  quads[P_LINE] = a.line_info;
  words[P_LINE_CNT] = a.line_info_cnt;
  words[P_ATTACH_BTF] = a.attach_btf_id as number;
  words[P_ATTACH_PROG] = a.attach_prog_fd as number;
  quads[P_FD_ARRAY] = a.fd_array;
  return P_END;
}
