import {
  BPF_MAP_TYPE, PERF_EVENT_HEADER, PERF_HEADER_SIZE, PERF_MMAP_DATA_HEAD, PERF_MMAP_DATA_TAIL, PERF_RAW_DATA_OFFSET,
  PERF_RECORD_BPF_OUTPUT, PERF_RECORD_LOST, PERF_RECORD_LOST_LAYOUT, PERF_RECORD_SAMPLE, PROT_READ, PROT_WRITE, StructCodec, mmapShared,
  pageSize, perfEventOpenBpfOutput, type BpfFd, type MappedRegion,
} from '../../syscall/index.js';
import type { BpfMap } from '../maps/bpfMap.js';
import type { TypedMap } from '../maps/typedMap.js';
import { u32 } from '../maps/codecs.js';
import { onlineCpus } from '../maps/perCpu.js';
import { Cleanup } from '../cleanup.js';
import { MapError, checkOptions } from '../errors.js';
import { EventReader, type RingSource } from './waiting.js';
import { checkMapType, mapStep } from './mapCheck.js';

/** One record of a perf event array: what bpf_perf_event_output() sent on `cpu`, or a count of records lost there. */
export interface PerfRecord {
  cpu: number;
  /**
   * The sample's raw data. The kernel pads it so that the record is 8-byte
   * aligned: it is the size given to bpf_perf_event_output() rounded up to
   * 8n + 4 bytes (a 5-byte sample reads as 12 bytes, the last 7 zero).
   */
  data: Buffer;
  /** > 0: the ring was full and this many records were dropped (data is empty) */
  lost: number;
}

export interface PerfEventReaderOptions {
  /** data pages per CPU, a power of two (default 64: 256 KiB with 4 KiB pages) */
  perCpuPages?: number;
  /** the CPUs to read (default: every online CPU); each must be < the map's max_entries */
  cpus?: readonly number[];
  /** records per wakeup of the reader (default 1: a record is delivered at once; more trades latency for throughput) */
  wakeupEvents?: number;
}

export type PerfEventReader = EventReader<PerfRecord>;

const DEFAULT_PAGES = 64;
const EMPTY = Buffer.alloc(0);

const HEADER = new StructCodec(PERF_EVENT_HEADER);
const SAMPLE = new StructCodec(PERF_RECORD_BPF_OUTPUT);
const LOST = new StructCodec(PERF_RECORD_LOST_LAYOUT);

/** One CPU's event and ring: where the kernel writes, and how far we read. */
class PerfRing {
  readonly data: Buffer;
  readonly mask: number;
  readonly #view: DataView;
  /** the record fields, read from the uapi layouts in host byte order at a ring position that wraps */
  readonly #type: (view: DataView, position: number) => number;
  readonly #size: (view: DataView, position: number) => number;
  readonly #time: (view: DataView, position: number) => number;
  readonly #rawSize: (view: DataView, position: number) => number;
  readonly #lost: (view: DataView, position: number) => number;
  /** data_head and data_tail as u64 words, read and written with Atomics for their memory ordering */
  readonly #meta: BigUint64Array;
  #tail: number;
  /** the time of the last sample read: a lost record (which has none) sorts right after it */
  #lastTime = 0;

  constructor(
    readonly cpu: number,
    readonly event: BpfFd,
    readonly region: MappedRegion,
    page: number,
  ) {
    this.data = Buffer.from(region.memory, page);
    this.mask = this.data.byteLength - 1;
    this.#view = new DataView(region.memory, page, this.data.byteLength);
    this.#type = HEADER.fieldReader('type', this.mask);
    this.#size = HEADER.fieldReader('size', this.mask);
    this.#time = SAMPLE.fieldReader('time', this.mask);
    this.#rawSize = SAMPLE.fieldReader('raw_size', this.mask);
    this.#lost = LOST.fieldReader('lost', this.mask);
    this.#meta = new BigUint64Array(region.memory, 0, page / 8);
    this.#tail = Number(Atomics.load(this.#meta, PERF_MMAP_DATA_TAIL / 8));
  }

  /**
   * Records between our tail and the kernel's head. The head is read with
   * acquire semantics (Atomics.load) before any record byte, and the new tail
   * published with a release store after the last: the kernel may overwrite
   * nothing we still read.
   */
  drain(out: PerfRecord[], times: number[], max: number): number {
    const head = Number(Atomics.load(this.#meta, PERF_MMAP_DATA_HEAD / 8));
    let tail = this.#tail;
    let taken = 0;
    const view = this.#view;
    while (tail < head && taken < max) {
      // records are 8-byte aligned in a ring of 2^n pages: a header never straddles the end
      const type = this.#type(view, tail);
      const size = this.#size(view, tail);
      if (size < PERF_HEADER_SIZE) break; // a torn header: never written by a sane kernel; stop rather than loop
      if (type === PERF_RECORD_SAMPLE) {
        // ns since boot: a double keeps the order (to the ns for the first 104 days of uptime)
        this.#lastTime = this.#time(view, tail);
        out.push({ cpu: this.cpu, data: this.#copy(tail + PERF_RAW_DATA_OFFSET, this.#rawSize(view, tail)), lost: 0 });
        times.push(this.#lastTime);
        taken++;
      } else if (type === PERF_RECORD_LOST) {
        // a u64 read as a number: a count past 2^53 records is not one a ring can lose
        out.push({ cpu: this.cpu, data: EMPTY, lost: this.#lost(view, tail) });
        times.push(this.#lastTime);
        taken++;
      }
      tail += size;
    }
    if (tail !== this.#tail) {
      this.#tail = tail;
      Atomics.store(this.#meta, PERF_MMAP_DATA_TAIL / 8, BigInt(tail));
    }
    return taken;
  }

  /** `length` bytes from ring position `position`, reassembled when they wrap around the end. */
  #copy(position: number, length: number): Buffer {
    const start = position & this.mask;
    const copy = Buffer.allocUnsafe(length);
    const first = Math.min(length, this.data.byteLength - start);
    this.data.copy(copy, 0, start, start + first);
    if (first < length) this.data.copy(copy, first, 0, length - first);
    return copy;
  }
}

/**
 * Read what BPF programs send with bpf_perf_event_output() into `map` (a
 * BPF_MAP_TYPE_PERF_EVENT_ARRAY): one PERF_COUNT_SW_BPF_OUTPUT event per CPU
 * with a ring of `perCpuPages` pages, its fd stored in the map at the CPU's
 * index (so BPF_F_CURRENT_CPU finds it). close() takes the fds out of the
 * map again and unmaps the rings. Records come in the order the kernel wrote
 * them: each CPU's in its ring's order, and what one look at the rings finds
 * merged by the time stamped on each.
 */
export function openPerfEventReader(map: BpfMap, options: PerfEventReaderOptions = {}): PerfEventReader {
  const what = 'open a perf event reader';
  checkMapType(map, BPF_MAP_TYPE.PERF_EVENT_ARRAY, what, 'openRingBufferReader() reads a ringbuf map');
  checkOptions(options, ['perCpuPages', 'cpus', 'wakeupEvents'], 'openPerfEventReader');
  if (options.cpus !== undefined && new Set(options.cpus).size !== options.cpus.length) {
    throw argumentError(map, `${what}: cpus names a CPU twice (${options.cpus.join(', ')}): one ring per CPU`);
  }
  const pages = options.perCpuPages ?? DEFAULT_PAGES;
  if (!Number.isInteger(pages) || pages < 1 || (pages & (pages - 1)) !== 0) {
    throw argumentError(map, `${what}: perCpuPages must be a power of two (1, 2, 4…), not ${String(pages)}`);
  }
  const wakeupEvents = options.wakeupEvents ?? 1;
  if (!Number.isInteger(wakeupEvents) || wakeupEvents < 1) {
    throw argumentError(map, `${what}: wakeupEvents must be a whole number >= 1, not ${String(wakeupEvents)}`);
  }
  const cpus = options.cpus ?? onlineCpus();
  if (cpus.length === 0) throw argumentError(map, `${what}: no CPUs to read (cpus is empty)`);
  for (const cpu of cpus) {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= map.maxEntries) {
      throw argumentError(map, `${what}: cpu ${String(cpu)} has no slot in the map (max_entries ${map.maxEntries})` +
        (options.cpus ? '' : ': the map has fewer slots than this machine has CPUs; pass the cpus to read'));
    }
  }
  const page = pageSize();
  const slots = map.typed(u32, u32);
  const cleanup = new Cleanup();
  const rings: PerfRing[] = [];
  try {
    for (const cpu of cpus) {
      const event = mapStep(map, `${what} on cpu ${cpu}`, () => perfEventOpenBpfOutput(cpu, wakeupEvents));
      cleanup.add(() => event.close());
      const region = mapStep(map, `${what}: map the ring of cpu ${cpu}`,
        () => mmapShared(event.fd, (pages + 1) * page, PROT_READ | PROT_WRITE, 0, `${pages} data pages`),
        'a ring larger than the locked-memory limit (perf_event_mlock_kb, ulimit -l) is refused: try fewer perCpuPages');
      cleanup.add(() => region.unmap());
      rings.push(new PerfRing(cpu, event, region, page));
      slots.update(cpu, event.fd);
      cleanup.add(() => void slots.delete(cpu));
    }
  } catch (error) {
    cleanup.run();
    throw error;
  }
  cleanup.disarm();
  return new EventReader(perfSource(map, slots, rings));
}

function perfSource(map: BpfMap, slots: TypedMap<number, number>, rings: PerfRing[]): RingSource<PerfRecord> {
  // what one look at every ring found, in time order, handed out over as many drains as it takes
  let found: PerfRecord[] = [];
  let next = 0;
  return {
    label: `perf event array '${map.name}'`,
    fds: rings.map((ring) => ring.event.fd),
    drain(out, max) {
      if (next === found.length) {
        found = lookAtEveryRing(rings, Math.max(max, MIN_PER_RING));
        next = 0;
      }
      const end = Math.min(found.length, next + max);
      for (; next < end; next++) out.push(found[next]!);
    },
    release() {
      const cleanup = new Cleanup();
      // undone in reverse: the slot first, so no program writes to a ring about to go
      for (const ring of rings) {
        cleanup.add(() => ring.region.unmap());
        cleanup.add(() => ring.event.close());
        // the map may be gone already (its object closed first): then there is no slot to clear
        cleanup.add(() => void (map.closed ? undefined : slots.delete(ring.cpu)));
      }
      cleanup.runOrThrow();
    },
  };
}

/** Records taken from each ring per look, at least: a CPU that is behind catches up over several looks. */
const MIN_PER_RING = 256;

/**
 * Up to `perRing` records from every ring, merged by the time the kernel
 * stamped on them: a process that moved between CPUs reads back in the order
 * it sent. Each ring is in order already, so this is a merge, not a sort.
 */
function lookAtEveryRing(rings: readonly PerfRing[], perRing: number): PerfRecord[] {
  const lists: { records: PerfRecord[]; times: number[]; at: number }[] = [];
  for (const ring of rings) {
    const list = { records: [] as PerfRecord[], times: [] as number[], at: 0 };
    if (ring.drain(list.records, list.times, perRing) > 0) lists.push(list);
  }
  if (lists.length <= 1) return lists[0]?.records ?? [];
  const merged: PerfRecord[] = [];
  for (;;) {
    let earliest: (typeof lists)[number] | undefined;
    for (const list of lists) {
      if (list.at < list.records.length && (!earliest || list.times[list.at]! < earliest.times[earliest.at]!)) earliest = list;
    }
    if (!earliest) return merged;
    merged.push(earliest.records[earliest.at++]!);
  }
}

function argumentError(map: BpfMap, message: string): MapError {
  return new MapError(map.name, message, { code: 'BPF_LOAD_ARGUMENT' });
}

