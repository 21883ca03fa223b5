/**
 * The layouts of the rings the kernel shares with user space by mmap.
 *
 * A perf event's ring (perf_event_mmap_page, include/uapi/linux/perf_event.h):
 * one metadata page, then 2^n data pages. The kernel writes records at
 * data_head; user space reads from data_tail and publishes the new tail.
 * Records are 8-byte aligned and may wrap around the end of the data area.
 */
export const PERF_MMAP_DATA_HEAD = 1024;
export const PERF_MMAP_DATA_TAIL = 1032;
/** struct perf_event_header: u32 type, u16 misc, u16 size (of the whole record) */
export const PERF_HEADER_SIZE = 8;
export const PERF_HEADER_SIZE_OFFSET = 6;
/** PERF_RECORD_LOST: header, u64 id, u64 lost */
export const PERF_RECORD_LOST = 2;
export const PERF_LOST_COUNT_OFFSET = 16;
/**
 * PERF_RECORD_SAMPLE of a BPF output event (PERF_SAMPLE_TIME | PERF_SAMPLE_RAW):
 * header, u64 time, u32 size, data (padded so the record is 8-byte aligned)
 */
export const PERF_RECORD_SAMPLE = 9;
export const PERF_SAMPLE_TIME_OFFSET = 8;
export const PERF_RAW_SIZE_OFFSET = 16;
export const PERF_RAW_DATA_OFFSET = 20;

/**
 * A BPF_MAP_TYPE_RINGBUF (kernel/bpf/ringbuf.c): page 0 holds consumer_pos
 * (user space writes it), page 1 producer_pos (read-only), then the data
 * area of max_entries bytes, mapped twice in a row so no record wraps.
 * Each record: u32 len (with the busy and discard bits), u32 page offset,
 * then len bytes, the whole rounded up to 8.
 */
export const RINGBUF_CONSUMER_POS = 0;
export const RINGBUF_PRODUCER_POS = 0;
export const RINGBUF_BUSY_BIT = 1 << 31;
export const RINGBUF_DISCARD_BIT = 1 << 30;
export const RINGBUF_HEADER_SIZE = 8;
