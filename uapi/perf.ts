import { struct } from './layout.js';

// include/uapi/linux/perf_event.h, spelled as there so they can be grepped.

/** enum perf_type_id */
export const PERF_TYPE_HARDWARE = 0;
export const PERF_TYPE_SOFTWARE = 1;
export const PERF_TYPE_TRACEPOINT = 2;
/** enum perf_sw_ids: the ones used here */
export const PERF_COUNT_SW = { CPU_CLOCK: 0, TASK_CLOCK: 1, BPF_OUTPUT: 10 } as const;

/** enum perf_event_sample_format: the ones used here */
export const PERF_SAMPLE_IP = 1 << 0;
export const PERF_SAMPLE_TIME = 1 << 2;
export const PERF_SAMPLE_RAW = 1 << 10;

/** perf_event_attr's bit fields (the u64 `flags` below): the ones used here */
export const PERF_ATTR_FLAG_DISABLED = 1n << 0n;
export const PERF_ATTR_FLAG_FREQ = 1n << 10n;

/** perf_event_open(2) flags */
export const PERF_FLAG_FD_CLOEXEC = 1 << 3;

export const PERF_EVENT_IOC_ENABLE = 0x2400;
export const PERF_EVENT_IOC_DISABLE = 0x2401;
/** _IOW('$', 8, __u32) */
export const PERF_EVENT_IOC_SET_BPF = 0x40042408;

/** struct perf_event_attr up to sample_max_stack: PERF_ATTR_SIZE_VER5 (112 bytes) */
export const PERF_EVENT_ATTR = struct('perf_event_attr', [
  ['type', 'u32'],
  ['size', 'u32'],
  ['config', 'u64'],
  /** sample_period, or sample_freq with PERF_ATTR_FLAG_FREQ */
  ['sample_period', 'u64'],
  ['sample_type', 'u64'],
  ['read_format', 'u64'],
  /** disabled:1, inherit:1, … freq:1 (bit 10), … */
  ['flags', 'u64'],
  /** wakeup_events, or wakeup_watermark */
  ['wakeup_events', 'u32'],
  ['bp_type', 'u32'],
  /** config1, or bp_addr, kprobe_func, uprobe_path */
  ['config1', 'u64'],
  ['config2', 'u64'],
  ['branch_sample_type', 'u64'],
  ['sample_regs_user', 'u64'],
  ['sample_stack_user', 'u32'],
  ['clockid', 's32'],
  ['sample_regs_intr', 'u64'],
  ['aux_watermark', 'u32'],
  ['sample_max_stack', 'u16'],
  ['__reserved_2', 'u16'],
]);
