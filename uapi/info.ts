import { BPF_OBJ_NAME_LEN } from './bpf.js';
import { struct } from './layout.js';

/**
 * The struct bpf_*_info that BPF_OBJ_GET_INFO_BY_FD fills, fields spelled as
 * in include/uapi/linux/bpf.h. A kernel older than a field leaves it 0 and
 * says how much it wrote.
 */

export const MAP_INFO = struct('bpf_map_info', [
  ['type', 'u32'],
  ['id', 'u32'],
  ['key_size', 'u32'],
  ['value_size', 'u32'],
  ['max_entries', 'u32'],
  ['map_flags', 'u32'],
  ['name', 'char', BPF_OBJ_NAME_LEN],
  ['ifindex', 'u32'],
  ['btf_vmlinux_value_type_id', 'u32'],
  ['netns_dev', 'u64'],
  ['netns_ino', 'u64'],
  ['btf_id', 'u32'],
  ['btf_key_type_id', 'u32'],
  ['btf_value_type_id', 'u32'],
  ['btf_vmlinux_id', 'u32'],
  ['map_extra', 'u64'],
]);

export const BPF_TAG_SIZE = 8;

export const PROG_INFO = struct('bpf_prog_info', [
  ['type', 'u32'],
  ['id', 'u32'],
  ['tag', 'bytes', BPF_TAG_SIZE],
  ['jited_prog_len', 'u32'],
  ['xlated_prog_len', 'u32'],
  ['jited_prog_insns', 'ptr'],
  ['xlated_prog_insns', 'ptr'],
  ['load_time', 'u64'],
  ['created_by_uid', 'u32'],
  ['nr_map_ids', 'u32'],
  ['map_ids', 'ptr'],
  ['name', 'char', BPF_OBJ_NAME_LEN],
  ['ifindex', 'u32'],
  /** bit 0: gpl_compatible (a C bitfield) */
  ['flags', 'u32'],
  ['netns_dev', 'u64'],
  ['netns_ino', 'u64'],
  ['nr_jited_ksyms', 'u32'],
  ['nr_jited_func_lens', 'u32'],
  ['jited_ksyms', 'ptr'],
  ['jited_func_lens', 'ptr'],
  ['btf_id', 'u32'],
  ['func_info_rec_size', 'u32'],
  ['func_info', 'ptr'],
  ['nr_func_info', 'u32'],
  ['nr_line_info', 'u32'],
  ['line_info', 'ptr'],
  ['jited_line_info', 'ptr'],
  ['nr_jited_line_info', 'u32'],
  ['line_info_rec_size', 'u32'],
  ['jited_line_info_rec_size', 'u32'],
  ['nr_prog_tags', 'u32'],
  ['prog_tags', 'ptr'],
  ['run_time_ns', 'u64'],
  ['run_cnt', 'u64'],
  ['recursion_misses', 'u64'],
  ['verified_insns', 'u32'],
  ['attach_btf_obj_id', 'u32'],
  ['attach_btf_id', 'u32'],
]);

/** bpf_prog_info.flags bit 0 */
export const PROG_INFO_GPL_COMPATIBLE = 1;

export const BTF_INFO = struct('bpf_btf_info', [
  ['btf', 'ptr'],
  ['btf_size', 'u32'],
  ['id', 'u32'],
  ['name', 'ptr'],
  ['name_len', 'u32'],
  ['kernel_btf', 'u32'],
]);

/** struct bpf_link_info: the fields every link type has */
export const LINK_INFO = struct('bpf_link_info', [
  ['type', 'u32'],
  ['id', 'u32'],
  ['prog_id', 'u32'],
  ['pad', 'u32'],
]);

export const LINK_INFO_RAW_TRACEPOINT = struct('bpf_link_info.raw_tracepoint', [
  ['tp_name', 'ptr'],
  ['tp_name_len', 'u32'],
], LINK_INFO);

export const LINK_INFO_TRACING = struct('bpf_link_info.tracing', [
  ['attach_type', 'u32'],
  ['target_obj_id', 'u32'],
  ['target_btf_id', 'u32'],
], LINK_INFO);

export const LINK_INFO_CGROUP = struct('bpf_link_info.cgroup', [
  ['cgroup_id', 'u64'],
  ['attach_type', 'u32'],
], LINK_INFO);

export const LINK_INFO_NETNS = struct('bpf_link_info.netns', [
  ['netns_ino', 'u32'],
  ['attach_type', 'u32'],
], LINK_INFO);

export const LINK_INFO_XDP = struct('bpf_link_info.xdp', [['ifindex', 'u32']], LINK_INFO);

export const LINK_INFO_TCX = struct('bpf_link_info.tcx', [
  ['ifindex', 'u32'],
  ['attach_type', 'u32'],
], LINK_INFO);

/** sizeof(struct bpf_link_info) as of Linux 6.x: its union's largest member (perf_event) ends there */
export const LINK_INFO_SIZE = 64;
