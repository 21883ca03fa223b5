import { BPF_OBJ_NAME_LEN } from './bpf.js';
import { struct } from './layout.js';

/**
 * union bpf_attr of include/uapi/linux/bpf.h, one layout per command (the
 * anonymous struct of the union that command reads), fields spelled as there.
 * A command is given `end` of its layout as the attr's size: a kernel older
 * than a field accepts it as long as it is 0.
 */

/** BPF_MAP_CREATE, up to map_extra (Linux 5.16) */
export const MAP_CREATE_ATTR = struct('bpf_attr.map_create', [
  ['map_type', 'u32'],
  ['key_size', 'u32'],
  ['value_size', 'u32'],
  ['max_entries', 'u32'],
  ['map_flags', 'u32'],
  ['inner_map_fd', 'u32'],
  ['numa_node', 'u32'],
  ['map_name', 'char', BPF_OBJ_NAME_LEN],
  ['map_ifindex', 'u32'],
  ['btf_fd', 'u32'],
  ['btf_key_type_id', 'u32'],
  ['btf_value_type_id', 'u32'],
  ['btf_vmlinux_value_type_id', 'u32'],
  ['map_extra', 'u64'],
]);

/** BPF_MAP_LOOKUP_ELEM, UPDATE_ELEM, DELETE_ELEM, GET_NEXT_KEY, LOOKUP_AND_DELETE_ELEM (`value` is next_key for GET_NEXT_KEY) */
export const MAP_ELEM_ATTR = struct('bpf_attr.map_elem', [
  ['map_fd', 'u32'],
  ['key', 'ptr'],
  ['value', 'ptr'],
  ['flags', 'u64'],
]);

/** BPF_MAP_*_BATCH */
export const MAP_BATCH_ATTR = struct('bpf_attr.batch', [
  ['in_batch', 'ptr'],
  ['out_batch', 'ptr'],
  ['keys', 'ptr'],
  ['values', 'ptr'],
  ['count', 'u32'],
  ['map_fd', 'u32'],
  ['elem_flags', 'u64'],
  ['flags', 'u64'],
]);

/** BPF_MAP_FREEZE, BPF_LINK_DETACH: one fd */
export const FD_ATTR = struct('bpf_attr.fd', [['fd', 'u32']]);

/** BPF_PROG_LOAD, up to log_true_size (Linux 6.4) */
export const PROG_LOAD_ATTR = struct('bpf_attr.prog_load', [
  ['prog_type', 'u32'],
  ['insn_cnt', 'u32'],
  ['insns', 'ptr'],
  ['license', 'ptr'],
  ['log_level', 'u32'],
  ['log_size', 'u32'],
  ['log_buf', 'ptr'],
  ['kern_version', 'u32'],
  ['prog_flags', 'u32'],
  ['prog_name', 'char', BPF_OBJ_NAME_LEN],
  ['prog_ifindex', 'u32'],
  ['expected_attach_type', 'u32'],
  ['prog_btf_fd', 'u32'],
  ['func_info_rec_size', 'u32'],
  ['func_info', 'ptr'],
  ['func_info_cnt', 'u32'],
  ['line_info_rec_size', 'u32'],
  ['line_info', 'ptr'],
  ['line_info_cnt', 'u32'],
  ['attach_btf_id', 'u32'],
  /** attach_prog_fd, or attach_btf_obj_fd for a kernel module's BTF */
  ['attach_prog_fd', 'u32'],
  ['core_relo_cnt', 'u32'],
  ['fd_array', 'ptr'],
  ['core_relos', 'ptr'],
  ['core_relo_rec_size', 'u32'],
  ['log_true_size', 'u32'],
]);

/** BPF_OBJ_PIN, BPF_OBJ_GET */
export const OBJ_ATTR = struct('bpf_attr.obj', [
  ['pathname', 'ptr'],
  ['bpf_fd', 'u32'],
  ['file_flags', 'u32'],
]);

/** BPF_PROG_ATTACH, BPF_PROG_DETACH */
export const PROG_ATTACH_ATTR = struct('bpf_attr.prog_attach', [
  ['target_fd', 'u32'],
  ['attach_bpf_fd', 'u32'],
  ['attach_type', 'u32'],
  ['attach_flags', 'u32'],
]);

/** BPF_PROG_TEST_RUN */
export const PROG_TEST_RUN_ATTR = struct('bpf_attr.test', [
  ['prog_fd', 'u32'],
  ['retval', 'u32'],
  ['data_size_in', 'u32'],
  ['data_size_out', 'u32'],
  ['data_in', 'ptr'],
  ['data_out', 'ptr'],
  ['repeat', 'u32'],
  ['duration', 'u32'],
  ['ctx_size_in', 'u32'],
  ['ctx_size_out', 'u32'],
  ['ctx_in', 'ptr'],
  ['ctx_out', 'ptr'],
  ['flags', 'u32'],
  ['cpu', 'u32'],
  ['batch_size', 'u32'],
]);

/** BPF_*_GET_FD_BY_ID and BPF_*_GET_NEXT_ID (`id` is start_id, prog_id, map_id, btf_id or link_id) */
export const GET_ID_ATTR = struct('bpf_attr.get_id', [
  ['id', 'u32'],
  ['next_id', 'u32'],
  ['open_flags', 'u32'],
]);

/** BPF_OBJ_GET_INFO_BY_FD */
export const INFO_ATTR = struct('bpf_attr.info', [
  ['bpf_fd', 'u32'],
  ['info_len', 'u32'],
  ['info', 'ptr'],
]);

/** BPF_PROG_QUERY */
export const PROG_QUERY_ATTR = struct('bpf_attr.query', [
  ['target_fd', 'u32'],
  ['attach_type', 'u32'],
  ['query_flags', 'u32'],
  ['attach_flags', 'u32'],
  ['prog_ids', 'ptr'],
  ['prog_cnt', 'u32'],
]);

/** BPF_RAW_TRACEPOINT_OPEN */
export const RAW_TRACEPOINT_ATTR = struct('bpf_attr.raw_tracepoint', [
  ['name', 'ptr'],
  ['prog_fd', 'u32'],
]);

/** BPF_BTF_LOAD, up to btf_log_true_size (Linux 6.4) */
export const BTF_LOAD_ATTR = struct('bpf_attr.btf_load', [
  ['btf', 'ptr'],
  ['btf_log_buf', 'ptr'],
  ['btf_size', 'u32'],
  ['btf_log_size', 'u32'],
  ['btf_log_level', 'u32'],
  ['btf_log_true_size', 'u32'],
]);

/** BPF_LINK_CREATE: the fields every link type reads */
export const LINK_CREATE_ATTR = struct('bpf_attr.link_create', [
  ['prog_fd', 'u32'],
  /** target_fd, or target_ifindex for XDP and TCX */
  ['target_fd', 'u32'],
  ['attach_type', 'u32'],
  ['flags', 'u32'],
]);

/** BPF_LINK_CREATE of a tracing program (fentry, fexit, freplace, lsm) */
export const LINK_CREATE_TRACING_ATTR = struct('bpf_attr.link_create.tracing', [
  ['target_btf_id', 'u32'],
  ['cookie', 'u64'],
], LINK_CREATE_ATTR);

/** BPF_LINK_CREATE of a perf_event link */
export const LINK_CREATE_PERF_EVENT_ATTR = struct('bpf_attr.link_create.perf_event', [
  ['bpf_cookie', 'u64'],
], LINK_CREATE_ATTR);

/** BPF_LINK_CREATE of an iterator */
export const LINK_CREATE_ITER_ATTR = struct('bpf_attr.link_create.iter', [
  ['iter_info', 'ptr'],
  ['iter_info_len', 'u32'],
], LINK_CREATE_ATTR);

/** BPF_LINK_CREATE of a TCX or netkit link (Linux 6.6); relative_fd is relative_id with BPF_F_ID */
export const LINK_CREATE_TCX_ATTR = struct('bpf_attr.link_create.tcx', [
  ['relative_fd', 'u32'],
  ['expected_revision', 'u64'],
], LINK_CREATE_ATTR);

/** BPF_LINK_CREATE of a kprobe_multi link (Linux 5.18): `syms` (names) or `addrs`, `cnt` of them */
export const LINK_CREATE_KPROBE_MULTI_ATTR = struct('bpf_attr.link_create.kprobe_multi', [
  /** kprobe_multi.flags (BPF_F_KPROBE_MULTI_RETURN), not link_create.flags */
  ['multi_flags', 'u32'],
  ['cnt', 'u32'],
  ['syms', 'ptr'],
  ['addrs', 'ptr'],
  ['cookies', 'ptr'],
], LINK_CREATE_ATTR);

/** BPF_LINK_CREATE of a uprobe_multi link (Linux 6.6): `cnt` file offsets in the binary at `path` */
export const LINK_CREATE_UPROBE_MULTI_ATTR = struct('bpf_attr.link_create.uprobe_multi', [
  ['path', 'ptr'],
  ['offsets', 'ptr'],
  ['ref_ctr_offsets', 'ptr'],
  ['cookies', 'ptr'],
  ['cnt', 'u32'],
  /** uprobe_multi.flags (BPF_F_UPROBE_MULTI_RETURN), not link_create.flags */
  ['multi_flags', 'u32'],
  ['pid', 'u32'],
], LINK_CREATE_ATTR);

/** BPF_LINK_UPDATE */
export const LINK_UPDATE_ATTR = struct('bpf_attr.link_update', [
  ['link_fd', 'u32'],
  ['new_prog_fd', 'u32'],
  ['flags', 'u32'],
  ['old_prog_fd', 'u32'],
]);

/** BPF_ENABLE_STATS */
export const ENABLE_STATS_ATTR = struct('bpf_attr.enable_stats', [['type', 'u32']]);

/** BPF_ITER_CREATE */
export const ITER_CREATE_ATTR = struct('bpf_attr.iter_create', [
  ['link_fd', 'u32'],
  ['flags', 'u32'],
]);

/** BPF_PROG_BIND_MAP */
export const PROG_BIND_MAP_ATTR = struct('bpf_attr.prog_bind_map', [
  ['prog_fd', 'u32'],
  ['map_fd', 'u32'],
  ['flags', 'u32'],
]);
