import {
  BPF_MAP_TYPE, BpfFd, PROT_READ, PROT_WRITE, RINGBUF_BUSY_BIT, RINGBUF_CONSUMER_POS, RINGBUF_DISCARD_BIT, RINGBUF_HDR,
  RINGBUF_HEADER_SIZE, RINGBUF_PRODUCER_POS, mmapShared, pageSize, wordIndex,
} from '../../syscall/index.js';
import type { BpfMap } from '../maps/bpfMap.js';
import { Cleanup } from '../cleanup.js';
import { EventReader, type RingSource } from './waiting.js';
import { checkMapType, mapStep } from './mapCheck.js';

/** One record of a ring buffer: what bpf_ringbuf_output() (or reserve and submit) sent, exactly as long as it was. */
export interface RingBufferRecord {
  data: Buffer;
}

export type RingBufferReader = EventReader<RingBufferRecord>;

const LENGTH_MASK = ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT) >>> 0;
/** bpf_ringbuf_hdr.len as a host-order word of a record: read with Atomics, it is the kernel's commit flag */
const LEN_WORD = wordIndex(RINGBUF_HDR.fields.len);

/**
 * Read what BPF programs send into `map` (a BPF_MAP_TYPE_RINGBUF): the
 * consumer page is mapped read-write, the producer page and the data area
 * read-only, the data area twice in a row as the kernel lays it out, so a
 * record is always contiguous. Records come in the order they were
 * committed; discarded ones are skipped.
 */
export function openRingBufferReader(map: BpfMap): RingBufferReader {
  const what = 'open a ring buffer reader';
  checkMapType(map, BPF_MAP_TYPE.RINGBUF, what, 'openPerfEventReader() reads a perf_event_array map');
  const page = pageSize();
  const size = map.maxEntries;
  const cleanup = new Cleanup();
  try {
    // an fd of our own: the epoll registration and the mappings must not depend on the map's fd staying open
    const owner = BpfFd.dup(map.fd);
    cleanup.add(() => owner.close());
    const consumer = mapStep(map, `${what}: map the consumer page`, () => mmapShared(owner.fd, page, PROT_READ | PROT_WRITE, 0));
    cleanup.add(() => consumer.unmap());
    const producer = mapStep(map, `${what}: map the producer page and data`,
      () => mmapShared(owner.fd, page + 2 * size, PROT_READ, page, `${size} bytes of data, mapped twice`));
    cleanup.add(() => producer.unmap());
    const consumerPos = new BigUint64Array(consumer.memory, RINGBUF_CONSUMER_POS, 1);
    const producerPos = new BigUint64Array(producer.memory, RINGBUF_PRODUCER_POS, 1);
    const data = Buffer.from(producer.memory, page, 2 * size);
    // record headers are read with Atomics: the length word is the kernel's commit flag
    const words = new Uint32Array(producer.memory, page, (2 * size) / 4);
    const mask = size - 1;
    let position = Number(Atomics.load(consumerPos, 0));
    const source: RingSource<RingBufferRecord> = {
      label: `ring buffer '${map.name}'`,
      fds: [owner.fd],
      drain(out, max) {
        const produced = Number(Atomics.load(producerPos, 0));
        const start = position;
        let taken = 0;
        while (position < produced && taken < max) {
          const at = position & mask;
          const header = Atomics.load(words, (at >>> 2) + LEN_WORD);
          // still being written: it and everything after it wait for the next look
          if (header & RINGBUF_BUSY_BIT) break;
          const length = header & LENGTH_MASK;
          if (!(header & RINGBUF_DISCARD_BIT)) {
            const copy = Buffer.allocUnsafe(length);
            data.copy(copy, 0, at + RINGBUF_HEADER_SIZE, at + RINGBUF_HEADER_SIZE + length);
            out.push({ data: copy });
            taken++;
          }
          position += (length + RINGBUF_HEADER_SIZE + 7) & ~7;
        }
        // release: the kernel may reuse the space only after every byte of it was copied
        if (position !== start) Atomics.store(consumerPos, 0, BigInt(position));
      },
      release() {
        cleanup.runOrThrow();
      },
    };
    return new EventReader(source);
  } catch (error) {
    cleanup.run();
    throw error;
  }
}

