import { readFileSync } from 'node:fs';

/** The dynamic PMUs of kprobes and uprobes (Linux >= 4.17): perf_event_open them without touching tracefs. */
export type ProbePmuName = 'kprobe' | 'uprobe';

export interface ProbePmu {
  /** perf_event_attr.type */
  type: number;
  /** the config bit that makes the probe a return probe */
  retprobe: bigint;
  /** where a uprobe's ref_ctr_offset (a USDT semaphore's file offset) goes in config, undefined where the PMU has none (Linux < 4.20) */
  refCtrShift: number | undefined;
  /** where it was read */
  path: string;
}

export const PMU_ROOT = '/sys/bus/event_source/devices';

const known = new Map<ProbePmuName, ProbePmu | null>();

/** The PMU's type and `retprobe` bit from sysfs, read once; undefined where the kernel has no such PMU. */
export function probePmu(name: ProbePmuName): ProbePmu | undefined {
  let pmu = known.get(name);
  if (pmu === undefined) {
    pmu = readPmu(name);
    known.set(name, pmu);
  }
  return pmu ?? undefined;
}

function readPmu(name: ProbePmuName): ProbePmu | null {
  const path = `${PMU_ROOT}/${name}`;
  let type: number;
  try {
    type = Number(readFileSync(`${path}/type`, 'utf8').trim());
  } catch {
    return null;
  }
  let bit = 0;
  try {
    // "config:0": the bit of perf_event_attr.config
    bit = Number(/config:(\d+)/.exec(readFileSync(`${path}/format/retprobe`, 'utf8'))?.[1] ?? 0);
  } catch {
    // no format directory: the bit every kernel with these PMUs has used
  }
  let refCtrShift: number | undefined;
  try {
    // "config:32-63"
    const found = /config:(\d+)/.exec(readFileSync(`${path}/format/ref_ctr_offset`, 'utf8'));
    if (found) refCtrShift = Number(found[1]);
  } catch {
    // a kprobe PMU, or a kernel without reference counters
  }
  return { type, retprobe: 1n << BigInt(bit), refCtrShift, path };
}
