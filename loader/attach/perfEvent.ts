import { BPF_PROG_TYPE, PERF_COUNT_SW, PERF_TYPE_SOFTWARE, errno, perfEventOpenSampling, type BpfFd } from '../../syscall/index.js';
import { Cleanup } from '../cleanup.js';
import { LoadError, argumentError, checkOptions } from '../errors.js';
import { onlineCpus } from '../maps/perCpu.js';
import { bindPerfEvent } from './perfBinding.js';
import {
  Attachment, attachStep, checkProgramRef, progFdOf, programContext, programLabel, requireProgramType, type ProgramRef,
} from './attachment.js';

export interface PerfEventOptions {
  /** perf_event_attr.type: PERF_TYPE_SOFTWARE (1, the default), PERF_TYPE_HARDWARE (0)… */
  type?: number;
  /** perf_event_attr.config: for software events PERF_COUNT_SW_CPU_CLOCK (0, the default)… */
  config?: number | bigint;
  /** run the program every `samplePeriod` events (for cpu-clock: nanoseconds) */
  samplePeriod?: number | bigint;
  /** or `sampleFrequency` times a second, the kernel adjusting the period (the default: 99 Hz) */
  sampleFrequency?: number;
  /** one CPU; by default every online CPU (one event each), or any CPU the process runs on when `pid` is given */
  cpu?: number;
  /** one process (thread id); by default every process */
  pid?: number;
}

const DEFAULT_FREQUENCY = 99;

/**
 * Attach a perf_event program (SEC("perf_event")) to a sampling event: it
 * runs on every sample, with the registers of the interrupted code in its
 * context. Without `cpu` (and `pid`) one event is opened per online CPU. Each
 * event is tied to the program with a bpf_link (BPF_LINK_CREATE with
 * BPF_PERF_EVENT, Linux >= 5.15), else with PERF_EVENT_IOC_SET_BPF. One
 * Attachment holds them all; close() detaches and closes every event.
 */
export function attachPerfEvent(program: ProgramRef, options: PerfEventOptions = {}): Attachment {
  checkProgramRef(program, 'attachPerfEvent');
  checkOptions(options, ['type', 'config', 'samplePeriod', 'sampleFrequency', 'cpu', 'pid'], 'attachPerfEvent');
  for (const name of ['type', 'config', 'samplePeriod'] as const) {
    const value: unknown = options[name];
    const whole = typeof value === 'bigint' ? value >= 0n && name !== 'type' : Number.isSafeInteger(value) && (value as number) >= 0;
    if (value !== undefined && !whole) {
      throw argumentError('attachPerfEvent', `options.${name}`, `a whole number >= 0${name === 'type' ? '' : ' (or a bigint)'}`, value);
    }
  }
  const type = options.type ?? PERF_TYPE_SOFTWARE;
  const config = BigInt(options.config ?? PERF_COUNT_SW.CPU_CLOCK);
  const target = `perf event type ${type} config ${config}`;
  const what = `attach to ${target}`;
  const sampling = samplingOf(program, options, what);
  const pid = wholeNumberOr(program, 'pid', options.pid, -1, what);
  const cpus = options.cpu !== undefined ? [wholeNumberOr(program, 'cpu', options.cpu, -1, what)] : pid >= 0 ? [-1] : onlineCpus();
  const progFd = progFdOf(program, what);
  requireProgramType(program, what, [BPF_PROG_TYPE.PERF_EVENT], 'a sampling event runs SEC("perf_event") programs');
  const cleanup = new Cleanup();
  const links: BpfFd[] = [];
  try {
    for (const cpu of cpus) {
      const where = cpu >= 0 ? `${what} on cpu ${cpu}` : what;
      const event = attachStep(program, where, () => perfEventOpenSampling({ type, config, ...sampling, pid, cpu }),
        (cause) => (cause.errno === errno.ENOENT || cause.errno === errno.EOPNOTSUPP
          ? 'this machine has no such event (hardware events need a PMU, which virtual machines often lack; software events always work)'
          : undefined));
      cleanup.add(() => event.close());
      const bound = attachStep(program, where, () => bindPerfEvent(event, progFd, 'auto'));
      cleanup.add(bound.detach);
      if (bound.link) links.push(bound.link);
    }
  } catch (error) {
    cleanup.run();
    throw error;
  }
  const allLinks = links.length === cpus.length;
  const label = `${target}${options.cpu !== undefined ? ` cpu ${options.cpu}` : pid >= 0 ? '' : ` (${cpus.length} CPUs)`}${pid >= 0 ? ` pid ${pid}` : ''}`;
  // one event, one link: the Attachment holds it and can pin it; several (one per CPU) are links all the same
  const single = cpus.length === 1 && allLinks ? links[0] : undefined;
  return new Attachment('perf_event', label, programLabel(program), () => cleanup.runOrThrow(), single, allLinks ? 'link' : 'legacy');
}

function samplingOf(program: ProgramRef, options: PerfEventOptions, what: string): { period: bigint } | { frequency: number } {
  if (options.samplePeriod !== undefined && options.sampleFrequency !== undefined) {
    throw optionError(program, `${what}: give samplePeriod or sampleFrequency, not both`);
  }
  if (options.samplePeriod !== undefined) {
    const period = options.samplePeriod;
    if ((typeof period === 'number' && !Number.isInteger(period)) || BigInt(period) < 1n) {
      throw optionError(program, `${what}: samplePeriod must be a whole number >= 1, not ${String(period)}`);
    }
    return { period: BigInt(period) };
  }
  const frequency = options.sampleFrequency ?? DEFAULT_FREQUENCY;
  if (!Number.isInteger(frequency) || frequency < 1) {
    throw optionError(program, `${what}: sampleFrequency must be a whole number of Hz >= 1, not ${String(frequency)}`);
  }
  return { frequency };
}

function wholeNumberOr(program: ProgramRef, name: string, value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) throw optionError(program, `${what}: ${name} must be a whole number >= 0, not ${String(value)}`);
  return value;
}

function optionError(program: ProgramRef, message: string): LoadError {
  return new LoadError(message, programContext(program), { code: 'BPF_LOAD_ARGUMENT' });
}
