import { BpfFd } from './fd.js';
import { perfEventAttr } from './attrCodecs.js';
import { SyscallError } from './errors.js';
import { addressOf, ioctl, perfEventOpen } from './native.js';
import { toCString } from './cString.js';
import {
  PERF_ATTR_FLAG_FREQ, PERF_COUNT_SW, PERF_EVENT_ATTR, PERF_FLAG_FD_CLOEXEC, PERF_SAMPLE_IP, PERF_SAMPLE_RAW, PERF_SAMPLE_TIME,
  PERF_TYPE_SOFTWARE,
} from '../uapi/perf.js';

export {
  PERF_TYPE_HARDWARE, PERF_TYPE_SOFTWARE, PERF_TYPE_TRACEPOINT, PERF_COUNT_SW, PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_DISABLE,
  PERF_EVENT_IOC_SET_BPF,
} from '../uapi/perf.js';


/** The fields of a perf_event_attr that the events here set; the others stay 0. */
interface PerfEventAttr {
  type: number;
  config: bigint;
  /** sample_period, or sample_freq when `frequency` */
  sample: bigint;
  frequency?: boolean;
  sampleType: number;
  wakeupEvents?: number;
  config1?: bigint;
  config2?: bigint;
}

/** perf_event_open(attr, pid, cpu) in no group, as an owned fd; a refusal says `detail`. */
function openPerfEvent(a: PerfEventAttr, pid: number, cpu: number, detail: string): BpfFd {
  const perfAttr = perfEventAttr.alloc({
    type: a.type,
    size: PERF_EVENT_ATTR.size,
    config: a.config,
    sample_period: a.sample,
    sample_type: a.sampleType,
    flags: a.frequency ? PERF_ATTR_FLAG_FREQ : 0n,
    wakeup_events: a.wakeupEvents ?? 0,
    config1: a.config1 ?? 0n,
    config2: a.config2 ?? 0n,
  });
  const fd = perfEventOpen(perfAttr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) throw new SyscallError('perf_event_open', -fd, detail);
  return new BpfFd(fd);
}

/**
 * perf_event_open for a trace event (tracepoint id, or a dynamic PMU's type and
 * config), on every process of one CPU, as bpf_load.c opened them. A BPF
 * program attached to it runs for hits on every CPU.
 */
export function perfEventOpenTrace(type: number, config: bigint, options: { config1?: bigint; cpu?: number } = {}): BpfFd {
  return openPerfEvent(
    { type, config, sample: 1n, sampleType: PERF_SAMPLE_RAW, wakeupEvents: 1, config1: options.config1 ?? 0n },
    -1, options.cpu ?? 0, `(type ${type}, config ${config})`,
  );
}

export interface ProbeEventAttr {
  /** the uprobe or kprobe PMU's type (/sys/bus/event_source/devices/{uprobe,kprobe}/type) */
  pmuType: number;
  /** the PMU's config bits: its `retprobe` bit, a uprobe's ref_ctr_offset */
  config: bigint;
  /** a uprobe's binary, or a kprobe's function */
  name: string;
  /** a uprobe's file offset, or the offset into a kprobe's function */
  offset: bigint;
  /** only this process (-1: every one; uprobes only) */
  pid?: number;
}

/**
 * perf_event_open of a dynamic probe through its PMU (Linux >= 4.17):
 * config1 points at the binary's path or the function's name (which must
 * stay alive for the call), config2 is the offset. Nothing is written to
 * the global uprobe_events or kprobe_events. A process-wide event is opened
 * on CPU 0, one for a pid on every CPU (-1), as libbpf does; a program
 * attached to it runs for hits on every CPU either way.
 */
export function perfEventOpenProbe(a: ProbeEventAttr): BpfFd {
  const name = toCString(a.name);
  const pid = a.pid ?? -1;
  const fd = openPerfEvent(
    { type: a.pmuType, config: a.config, sample: 1n, sampleType: PERF_SAMPLE_RAW, wakeupEvents: 1, config1: addressOf(name), config2: a.offset },
    pid, pid >= 0 ? -1 : 0, `(type ${a.pmuType}, ${a.name}+0x${a.offset.toString(16)}${pid >= 0 ? `, pid ${pid}` : ''})`,
  );
  void name;
  return fd;
}

/**
 * A PERF_COUNT_SW_BPF_OUTPUT event on one CPU (all processes): the target of
 * bpf_perf_event_output() for that CPU once its fd is stored in a
 * BPF_MAP_TYPE_PERF_EVENT_ARRAY. `wakeupEvents` samples make one wakeup.
 * Samples carry their time (PERF_SAMPLE_TIME) and the raw data (see rings.ts).
 */
export function perfEventOpenBpfOutput(cpu: number, wakeupEvents: number): BpfFd {
  return openPerfEvent(
    { type: PERF_TYPE_SOFTWARE, config: BigInt(PERF_COUNT_SW.BPF_OUTPUT), sample: 1n, sampleType: PERF_SAMPLE_TIME | PERF_SAMPLE_RAW, wakeupEvents },
    -1, cpu, `(bpf output, cpu ${cpu})`,
  );
}

export interface SamplingEventAttr {
  type: number;
  config: bigint;
  /** a sample every `period` events, or `frequency` samples a second (the kernel adapts the period) */
  period?: bigint;
  frequency?: number;
  /** -1: every process (then cpu must be >= 0) */
  pid: number;
  /** -1: every CPU the process runs on */
  cpu: number;
}

/** A sampling event for a perf_event program: each sample (overflow) runs the program attached to it. */
export function perfEventOpenSampling(a: SamplingEventAttr): BpfFd {
  const sample = a.frequency !== undefined ? BigInt(a.frequency) : (a.period ?? 1n);
  return openPerfEvent(
    { type: a.type, config: a.config, sample, frequency: a.frequency !== undefined, sampleType: PERF_SAMPLE_IP },
    a.pid, a.cpu, `(type ${a.type}, config ${a.config}, pid ${a.pid}, cpu ${a.cpu})`,
  );
}

export function perfEventIoctl(fd: number, request: number, arg: number, what: string): void {
  const ret = ioctl(fd, request, arg);
  if (ret < 0) throw new SyscallError(what, -ret, `(perf fd ${fd})`);
}
