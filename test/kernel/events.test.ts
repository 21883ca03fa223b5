import { expect } from 'chai';
import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import {
  BpfObject, LoadError, MapError, attachPerfEvent, attachTracepoint, loadBpfFile, openPerfEventReader, openRingBufferReader,
  u32, u64, type Attachment, type PerfRecord, type RingBufferRecord,
} from '../../loader/index.js';
import { openBpfFdCount } from '../../syscall/index.js';
import { bpftoolLinks } from '../support/bpftool.js';
import { fixturePath } from '../support/fixtures.js';
import { requireFeature, requireKernel, requireTool, requireTracefs } from '../support/kernel.js';
import { sleep } from '../support/processes.js';
import { uniqueName } from '../support/unique.js';

/**
 * The readers against records a child process causes: close(BASE + seq)
 * makes fixtures/events_kern.o send record `seq` ({u32 seq, u32 len,
 * len bytes (seq * 13 + i)}, len = seq * 7 % 53 + 1) to the outputs chosen
 * in its config map, for the child's tgid only. The child is pinned to CPU 0,
 * so its perf records all land in one CPU's ring, in order.
 */
const BASE = 1_000_000_000;
const OUT_PERF = 1;
const OUT_RING = 2;
const OUT_SMALL_RING = 4;

function payloadLength(seq: number): number {
  return ((seq * 7) % 53) + 1;
}

/** What the program sends for `seq`: 8 header bytes and the payload. */
function expectedRecord(seq: number): Buffer {
  const length = payloadLength(seq);
  const bytes = Buffer.alloc(8 + length);
  bytes.writeUInt32LE(seq, 0);
  bytes.writeUInt32LE(length, 4);
  for (let i = 0; i < length; i++) bytes[8 + i] = (seq * 13 + i) & 0xff;
  return bytes;
}

/** Perf pads the raw sample so the record (8 header + 8 time + 4 size + data) is 8-byte aligned. */
function perfDataLength(size: number): number {
  return Math.ceil((size + 4) / 8) * 8 - 4;
}

/** A child on CPU 0 that makes the system calls it is told to: `N FIRST` closes BASE+FIRST … BASE+FIRST+N-1. */
class Emitter {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: Interface;
  readonly #replies: string[] = [];
  #waiting: ((line: string) => void) | undefined;

  constructor() {
    const script = `
      const { closeSync } = require('node:fs');
      require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
        const [count, first] = line.split(' ').map(Number);
        for (let i = 0; i < count; i++) { try { closeSync(${BASE} + first + i); } catch {} }
        process.stdout.write('done\\n');
      });`;
    this.#child = spawn('taskset', ['-c', '0', process.execPath, '-e', script]);
    this.#lines = createInterface({ input: this.#child.stdout });
    this.#lines.on('line', (line) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting) waiting(line);
      else this.#replies.push(line);
    });
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** Make the child send records first … first+count-1, and wait until it did. */
  async emit(count: number, first: number): Promise<void> {
    const reply = new Promise<string>((resolve) => {
      const queued = this.#replies.shift();
      if (queued !== undefined) resolve(queued);
      else this.#waiting = resolve;
    });
    this.#child.stdin.write(`${count} ${first}\n`);
    expect(await reply).to.equal('done');
  }

  /** Move the child (every thread of it) to another CPU. */
  moveTo(cpu: number): void {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(this.pid)], { stdio: 'ignore' });
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.stdin.end();
    this.#child.kill();
    await exited;
  }
}

/** Read until `count` records (lost counts included) arrived. */
async function readCount<R>(reader: { readBatch(max: number): Promise<R[]> }, count: number): Promise<R[]> {
  const records: R[] = [];
  while (records.length < count) {
    const batch = await reader.readBatch(count - records.length);
    if (batch.length === 0) break;
    records.push(...batch);
  }
  return records;
}

function seqsOf(records: { data: Buffer }[]): number[] {
  return records.map((r) => r.data.readUInt32LE(0));
}

function expectPerfRecords(records: PerfRecord[], first: number, count: number): void {
  expect(records.map((r) => r.lost), 'lost counts').to.deep.equal(new Array(count).fill(0));
  expect(records.map((r) => r.cpu), 'cpus').to.deep.equal(new Array(count).fill(0));
  expect(seqsOf(records)).to.deep.equal(Array.from({ length: count }, (_, i) => first + i));
  for (const record of records) {
    const expected = expectedRecord(record.data.readUInt32LE(0));
    expect(record.data.length).to.equal(perfDataLength(expected.length));
    expect(record.data.subarray(0, expected.length).equals(expected), `record ${record.data.readUInt32LE(0)}`).to.equal(true);
  }
}

function expectRingRecords(records: RingBufferRecord[], first: number, count: number): void {
  expect(seqsOf(records)).to.deep.equal(Array.from({ length: count }, (_, i) => first + i));
  for (const record of records) {
    const expected = expectedRecord(record.data.readUInt32LE(0));
    expect(record.data.equals(expected), `record ${record.data.readUInt32LE(0)}`).to.equal(true);
  }
}

/** The online CPUs, from the kernel's list format (`0-3,8`). */
function onlineCpus(): number[] {
  return readFileSync('/sys/devices/system/cpu/online', 'utf8').trim().split(',').flatMap((part) => {
    const [first, last = first] = part.split('-').map(Number);
    return Array.from({ length: last! - first! + 1 }, (_, i) => first! + i);
  });
}

/** Mappings of this process backed by perf events or BPF maps (the rings). */
function ringMappings(): number {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => /anon_inode:\[?(perf_event|bpf-map)/.test(l)).length;
}

describe('events: perf event array and ring buffer readers', function () {
  this.timeout(20000);
  let object: BpfObject;
  let attachment: Attachment;
  let emitter: Emitter;

  before(async function () {
    requireKernel(this);
    requireTool(this, 'taskset');
    requireTracefs(this);
    object = await loadBpfFile(fixturePath('events_kern.o'));
    attachment = attachTracepoint(object.program('emit_on_close'), 'syscalls', 'sys_enter_close');
    emitter = new Emitter();
    object.map('config').typed(u32, u32).update(0, emitter.pid);
  });

  after(async () => {
    await emitter?.stop();
    attachment?.close();
    object?.close();
  });

  function outputs(mask: number): void {
    object.map('config').typed(u32, u32).update(1, mask);
  }

  it('delivers 10 of 10 records from a child process through each reader, in order and intact', async () => {
    outputs(OUT_PERF | OUT_RING);
    using perf = openPerfEventReader(object.map('perf_events'));
    using ring = openRingBufferReader(object.map('ring'));
    // both wait before the records exist: one shared wait serves them
    const pending = Promise.all([readCount(perf, 10), readCount(ring, 10)]);
    await emitter.emit(10, 0);
    const [perfRecords, ringRecords] = await pending;
    expectPerfRecords(perfRecords, 0, 10);
    expectRingRecords(ringRecords, 0, 10);
    expect(perf.readAvailable()).to.deep.equal([]);
    expect(ring.readAvailable()).to.deep.equal([]);
  });

  it('a process that moved between CPUs reads back in the order it sent, merged by the time stamped on each record', async function () {
    requireFeature(this, 'two online CPUs', onlineCpus().length >= 2 ? undefined : 'this machine has one');
    outputs(OUT_PERF);
    using perf = openPerfEventReader(object.map('perf_events'));
    try {
      emitter.moveTo(1);
      await emitter.emit(5, 300);
      emitter.moveTo(0);
      await emitter.emit(5, 305);
    } finally {
      emitter.moveTo(0);
    }
    const records = await readCount(perf, 10);
    expect(seqsOf(records)).to.deep.equal([300, 301, 302, 303, 304, 305, 306, 307, 308, 309]);
    expect(records.map((r) => r.cpu)).to.deep.equal([1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
  });

  it('read() and the async iterator give one record at a time; leaving the loop closes the reader', async () => {
    outputs(OUT_RING);
    using ring = openRingBufferReader(object.map('ring'));
    await emitter.emit(3, 100);
    const first = await ring.read();
    expect(seqsOf([first!])).to.deep.equal([100]);
    const seen: number[] = [];
    for await (const record of ring) {
      seen.push(record.data.readUInt32LE(0));
      if (seen.length === 2) break;
    }
    expect(seen).to.deep.equal([101, 102]);
    expect(ring.closed).to.equal(true);
    expect(await ring.read()).to.equal(undefined);
  });

  it('a pending read blocks neither the event loop nor a CPU, and concurrent reads are served in order', async () => {
    outputs(OUT_RING);
    using ring = openRingBufferReader(object.map('ring'));
    using perf = openPerfEventReader(object.map('perf_events'));
    const first = ring.read();
    const second = ring.read();
    const idle = perf.read();
    // process.cpuUsage() counts every thread: a garbage collection or JIT compilation late in a long suite can take
    // one window's CPU (240 ms of 300 seen once in four full runs), while a read that spins takes every window's
    let ticks = 0;
    let usedMs = Infinity;
    for (let window = 0; window < 3 && usedMs >= 60; window++) {
      const cpu = process.cpuUsage();
      ticks = 0;
      const timer = setInterval(() => ticks++, 10);
      await sleep(300);
      clearInterval(timer);
      const used = process.cpuUsage(cpu);
      usedMs = (used.user + used.system) / 1000;
    }
    // a blocked event loop runs the timer at most once, after the block; how often a free one runs it depends on
    // how busy the machine is (13 of 30 with other test runs on two CPUs)
    expect(ticks, 'timer ticks while three reads waited').to.be.at.least(3);
    expect(usedMs, 'ms of CPU while waiting').to.be.below(60);
    await emitter.emit(2, 200);
    expect(seqsOf([(await first)!, (await second)!])).to.deep.equal([200, 201]);
    perf.close();
    expect(await idle).to.equal(undefined);
  });

  it('reassembles perf records that wrap around the end of a one-page ring, and loses none when read in time', async () => {
    outputs(OUT_PERF);
    using perf = openPerfEventReader(object.map('perf_events'), { perCpuPages: 1, cpus: [0] });
    const ringBytes = 4096;
    let position = 0;
    let wrapped = 0;
    for (let round = 0; round < 8; round++) {
      const first = round * 40;
      await emitter.emit(40, first);
      const records = await readCount(perf, 40);
      expectPerfRecords(records, first, 40);
      for (const record of records) {
        // header 8 + time 8 + size 4 + padded data: where this record sat in the ring
        const size = 20 + record.data.length;
        if ((position % ringBytes) + size > ringBytes) wrapped++;
        position += size;
      }
    }
    expect(wrapped, 'records that straddled the end of the ring').to.be.at.least(1);
    expect(perf.readAvailable()).to.deep.equal([]);
  });

  it('reads a 4 KiB ring buffer round and round with records of odd sizes', async () => {
    outputs(OUT_SMALL_RING);
    using ring = openRingBufferReader(object.map('small_ring'));
    let position = 0;
    let wrapped = 0;
    for (let round = 0; round < 10; round++) {
      const first = 1000 + round * 40;
      await emitter.emit(40, first);
      const records = await readCount(ring, 40);
      expectRingRecords(records, first, 40);
      for (const record of records) {
        // header 8 + data, rounded up to 8: records past the end are read from the second mapping
        const size = Math.ceil((8 + record.data.length) / 8) * 8;
        if ((position % 4096) + size > 4096) wrapped++;
        position += size;
      }
    }
    expect(position, 'bytes through the ring').to.be.greaterThan(4 * 4096);
    expect(wrapped, 'records that straddled the end of the ring').to.be.at.least(1);
  });

  it('counts the records a full perf ring lost, in a lost record before the next one', async () => {
    outputs(OUT_PERF);
    using perf = openPerfEventReader(object.map('perf_events'), { perCpuPages: 1, cpus: [0] });
    await emitter.emit(300, 2000);
    const kept = perf.readAvailable();
    expect(kept.length).to.be.within(40, 299);
    expectPerfRecords(kept, 2000, kept.length);
    // the kernel writes the lost record once there is room again: with the next record
    await emitter.emit(1, 2300);
    const [lost, next] = await readCount(perf, 2);
    expect(lost).to.deep.include({ cpu: 0, lost: 300 - kept.length });
    expect(lost!.data.length).to.equal(0);
    expectPerfRecords([next!], 2300, 1);
  });

  it('close() during a pending read() resolves it and leaks nothing: fds, mappings, map slots', async () => {
    const fds = openBpfFdCount();
    const mappings = ringMappings();
    using perf = openPerfEventReader(object.map('perf_events'));
    using ring = openRingBufferReader(object.map('ring'));
    expect(ringMappings()).to.be.greaterThan(mappings);
    const pendingPerf = perf.read();
    const pendingRing = ring.readBatch(10);
    await sleep(50);
    perf.close();
    ring.close();
    expect(await pendingPerf).to.equal(undefined);
    expect(await pendingRing).to.deep.equal([]);
    expect(openBpfFdCount()).to.equal(fds);
    expect(ringMappings()).to.equal(mappings);
    // the reader took its perf event fds out of the map: there is nothing left to delete
    const slots = object.map('perf_events').typed(u32, u32);
    expect(onlineCpus().map((cpu) => slots.delete(cpu))).to.deep.equal(onlineCpus().map(() => false));
    perf.close();
    expect(await perf.read()).to.equal(undefined);
  });

  it('a reader outlives the object its map came from: closing it afterwards throws nothing and leaks nothing', async () => {
    const fds = openBpfFdCount();
    const other = await loadBpfFile(fixturePath('events_kern.o'));
    const perf = openPerfEventReader(other.map('perf_events'));
    const ring = openRingBufferReader(other.map('ring'));
    const pending = ring.read();
    other.close();
    perf.close();
    ring.close();
    expect(await pending).to.equal(undefined);
    expect(openBpfFdCount()).to.equal(fds);
  });

  it('refuses a map of the wrong type, naming the map and the reader it needs', () => {
    const wrongPerf = (): unknown => openPerfEventReader(object.map('config'));
    expect(wrongPerf).to.throw(MapError, /map 'config'.*array map, not a perf_event_array map.*(?:openRingBufferReader|openPerfEventReader)/);
    try {
      openRingBufferReader(object.map('perf_events'));
      expect.fail('opened a ring buffer reader on a perf event array');
    } catch (error) {
      expect(error).to.be.instanceOf(MapError);
      expect((error as MapError).code).to.equal('BPF_LOAD_ARGUMENT');
      expect((error as Error).message).to.match(/map 'perf_events'.*perf_event_array map, not a ringbuf map.*openPerfEventReader/);
    }
    expect(() => openPerfEventReader(object.map('perf_events'), { perCpuPages: 3 })).to.throw(LoadError, /power of two/);
    expect(() => openPerfEventReader(object.map('perf_events'), { cpus: [64] })).to.throw(LoadError, /cpu 64 has no slot/);
  });
});

describe('events: a pending read does not hold a process that exits', function () {
  this.timeout(30_000);

  before(function () {
    requireKernel(this);
  });

  it('opening readers adds no process listener of its own (one exit hook serves them all)', async () => {
    using object = await loadBpfFile(fixturePath('events_kern.o'));
    // the first reader of the process installs the one hook
    openRingBufferReader(object.map('ring')).close();
    const before = process.listenerCount('exit');
    for (let i = 0; i < 3; i++) openRingBufferReader(object.map('ring')).close();
    expect(process.listenerCount('exit')).to.equal(before);
  });

  for (const [how, ending] of [['process.exit()', 'process.exit(0)'], ['an uncaught exception', "throw new Error('boom')"]] as const) {
    it(`${how} with a read pending ends the process (Node joins its worker threads at exit)`, () => {
      const index = new URL('../../loader/index.js', import.meta.url).href;
      const script = [
        `const { loadBpfFileSync, openRingBufferReader } = await import(${JSON.stringify(index)});`,
        `const obj = loadBpfFileSync(${JSON.stringify(fixturePath('events_kern.o'))});`,
        "const reader = openRingBufferReader(obj.map('ring'));",
        'void reader.read();',
        `setTimeout(() => { ${ending}; }, 200);`,
      ].join('\n');
      const started = Date.now();
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
      expect(child.signal, `still running after ${Date.now() - started} ms: killed`).to.equal(null);
      expect(child.status).to.equal(ending.startsWith('throw') ? 1 : 0);
    });
  }
});

describe('events: attachPerfEvent samples with a perf_event program', function () {
  this.timeout(20000);
  before(function () {
    requireKernel(this);
    requireTool(this, 'bpftool');
  });

  function perfLinksOf(programId: number): number {
    return bpftoolLinks().filter((l) => l.type === 'perf_event' && l.prog_id === programId).length;
  }

  it('runs the program on a cpu-clock timer on every CPU through perf links, and stops on close()', async () => {
    using object = await loadBpfFile(fixturePath('sampleip_kern.o'));
    const program = object.program('do_sample');
    using attached = attachPerfEvent(program, { sampleFrequency: 1000 });
    expect(attached.kind).to.equal('perf_event');
    expect(perfLinksOf(program.id)).to.equal(onlineCpus().length);
    const until = Date.now() + 200;
    while (Date.now() < until); // keep one CPU busy: its timer samples this loop
    attached.close();
    expect(perfLinksOf(program.id)).to.equal(0);
    let samples = 0;
    object.map('ip_map').typed(u64, u32).forEach((_ip, count) => void (samples += count));
    expect(samples).to.be.at.least(20);
    const after = samples;
    await sleep(50);
    samples = 0;
    object.map('ip_map').typed(u64, u32).forEach((_ip, count) => void (samples += count));
    expect(samples, 'no samples after close()').to.equal(after);
  });

  it('one process on any CPU with a period, and refuses a period with a frequency', async () => {
    using object = await loadBpfFile(fixturePath('sampleip_kern.o'));
    const program = object.program('do_sample');
    using attached = attachPerfEvent(program, { pid: process.pid, samplePeriod: 1_000_000 });
    expect(attached.target).to.match(new RegExp(`pid ${process.pid}$`));
    expect(perfLinksOf(program.id)).to.equal(1);
    attached.close();
    expect(() => attachPerfEvent(program, { samplePeriod: 10, sampleFrequency: 10 })).to.throw(LoadError, /not both/);
  });

  it('says it is held by links; a single-event attachment pins its link, a per-CPU one says why it cannot', async () => {
    using object = await loadBpfFile(fixturePath('sampleip_kern.o'));
    const program = object.program('do_sample');
    using perCpu = attachPerfEvent(program, { sampleFrequency: 10 });
    expect(perCpu.via).to.equal('link');
    expect(() => perCpu.pin(`/sys/fs/bpf/${uniqueName('bpfload-perf')}`)).to.throw(LoadError, /one link per CPU: attach with options\.cpu/);
    const path = `/sys/fs/bpf/${uniqueName('bpfload-perf1')}`;
    const one = attachPerfEvent(program, { cpu: 0, sampleFrequency: 10 });
    try {
      expect(one.via).to.equal('link');
      expect(one.linkId).to.be.a('number');
      one.pin(path);
      one.close();
      // the pin holds the link past close(): the program still samples until the pin goes
      expect(perfLinksOf(program.id)).to.equal(onlineCpus().length + 1);
    } finally {
      one.close();
      rmSync(path, { force: true });
    }
    perCpu.close();
    expect(perfLinksOf(program.id)).to.equal(0);
  });
});
