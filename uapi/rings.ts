import { struct } from './layout.js';

/**
 * The layouts of the rings the kernel shares with user space by mmap, and of
 * the records in them (host byte order, like every uapi struct).
 *
 * A perf event's ring (perf_event_mmap_page, include/uapi/linux/perf_event.h):
 * one metadata page, then 2^n data pages. The kernel writes records at
 * data_head; user space reads from data_tail and publishes the new tail.
 * Records are 8-byte aligned and may wrap around the end of the data area.
 */
export const PERF_EVENT_MMAP_PAGE = struct('perf_event_mmap_page', [
  ['version', 'u32'],
  ['compat_version', 'u32'],
  ['lock', 'u32'],
  ['index', 'u32'],
  /** __s64 offset */
  ['offset', 'u64'],
  ['time_enabled', 'u64'],
  ['time_running', 'u64'],
  /** the capabilities union: cap_bit0, cap_user_rdpmc, … as bits */
  ['capabilities', 'u64'],
  ['pmc_width', 'u16'],
  ['time_shift', 'u16'],
  ['time_mult', 'u32'],
  ['time_offset', 'u64'],
  ['time_zero', 'u64'],
  ['size', 'u32'],
  ['pad_reserved_1', 'u32'],
  ['time_cycles', 'u64'],
  ['time_mask', 'u64'],
  /** __u8 __reserved[116*8]: data_head starts the second KiB */
  ['pad_reserved', 'bytes', 116 * 8],
  ['data_head', 'u64'],
  ['data_tail', 'u64'],
  ['data_offset', 'u64'],
  ['data_size', 'u64'],
  ['aux_head', 'u64'],
  ['aux_tail', 'u64'],
  ['aux_offset', 'u64'],
  ['aux_size', 'u64'],
]);
export const PERF_MMAP_DATA_HEAD = PERF_EVENT_MMAP_PAGE.fields.data_head.offset;
export const PERF_MMAP_DATA_TAIL = PERF_EVENT_MMAP_PAGE.fields.data_tail.offset;

/** struct perf_event_header: what every record starts with; `size` is the whole record's */
export const PERF_EVENT_HEADER = struct('perf_event_header', [
  ['type', 'u32'],
  ['misc', 'u16'],
  ['size', 'u16'],
]);
export const PERF_HEADER_SIZE = PERF_EVENT_HEADER.size;

/** enum perf_event_type: the records a BPF output event's ring holds */
export const PERF_RECORD_LOST = 2;
export const PERF_RECORD_SAMPLE = 9;

/** PERF_RECORD_LOST: the header, then u64 id, u64 lost */
export const PERF_RECORD_LOST_LAYOUT = struct('perf_record_lost', [
  ['id', 'u64'],
  ['lost', 'u64'],
], PERF_EVENT_HEADER);

/**
 * PERF_RECORD_SAMPLE of a BPF output event (PERF_SAMPLE_TIME | PERF_SAMPLE_RAW):
 * the header, u64 time, u32 size, then `size` bytes of data from `end` on
 * (padded so the record is 8-byte aligned)
 */
export const PERF_RECORD_BPF_OUTPUT = struct('perf_record_sample (time, raw)', [
  ['time', 'u64'],
  ['raw_size', 'u32'],
], PERF_EVENT_HEADER);
export const PERF_RAW_DATA_OFFSET = PERF_RECORD_BPF_OUTPUT.end;

/**
 * A BPF_MAP_TYPE_RINGBUF (kernel/bpf/ringbuf.c): page 0 holds consumer_pos
 * (user space writes it), page 1 producer_pos (read-only), then the data
 * area of max_entries bytes, mapped twice in a row so no record wraps.
 * Each record: a bpf_ringbuf_hdr (len with the busy and discard bits, the
 * page offset), then len bytes, the whole rounded up to 8.
 */
export const RINGBUF_CONSUMER_POS = 0;
export const RINGBUF_PRODUCER_POS = 0;
export const RINGBUF_BUSY_BIT = 1 << 31;
export const RINGBUF_DISCARD_BIT = 1 << 30;
/** struct bpf_ringbuf_hdr (include/uapi/linux/bpf.h) */
export const RINGBUF_HDR = struct('bpf_ringbuf_hdr', [
  ['len', 'u32'],
  ['pg_off', 's32'],
]);
export const RINGBUF_HEADER_SIZE = RINGBUF_HDR.size;
