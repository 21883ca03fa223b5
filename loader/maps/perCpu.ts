import { readFileSync } from 'node:fs';
import { LoadError, argumentError } from '../errors.js';
import { encodeError, type Codec } from './codecs.js';

/**
 * Per-CPU maps hold one value slot per *possible* CPU (not online, not
 * configured): the kernel copies num_possible_cpus() slots of
 * round_up(value_size, 8) bytes on every lookup and update.
 */

const POSSIBLE = '/sys/devices/system/cpu/possible';

/** Parses the kernel's cpu list format (`0`, `0-1`, `0,2-5`) of the possible CPUs: how many CPUs it names. */
export function parseCpuList(text: string): number {
  return cpuList(text, POSSIBLE).length;
}

/** The CPUs a cpu list (`0,2-5`) read from `file` names, in order. */
function cpuList(text: string, file: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!match) throw new LoadError(`cannot parse CPU list '${text.trim()}' (part '${part}')`, { file }, { code: 'BPF_LOAD_SYSTEM' });
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) throw new LoadError(`CPU range '${part}' runs backwards`, { file }, { code: 'BPF_LOAD_SYSTEM' });
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

const ONLINE = '/sys/devices/system/cpu/online';

/**
 * The CPUs online now, from /sys/devices/system/cpu/online: per-CPU perf
 * events can only be opened on these (an offline CPU gives ENODEV).
 */
export function onlineCpus(): number[] {
  let text: string;
  try {
    text = readFileSync(ONLINE, 'utf8');
  } catch (cause) {
    throw new LoadError(`cannot read the online CPUs: ${(cause as NodeJS.ErrnoException).code ?? cause}`, { file: ONLINE }, {
      cause, code: 'BPF_LOAD_SYSTEM', hint: 'per-CPU perf events need sysfs mounted at /sys',
    });
  }
  return cpuList(text, ONLINE);
}

let possible: number | undefined;

/** Number of possible CPUs, from /sys/devices/system/cpu/possible (read once). */
export function possibleCpus(): number {
  possible ??= parseCpuList(readPossible());
  return possible;
}

function readPossible(): string {
  try {
    return readFileSync(POSSIBLE, 'utf8');
  } catch (cause) {
    throw new LoadError(`cannot read the possible CPUs: ${(cause as NodeJS.ErrnoException).code ?? cause}`, { file: POSSIBLE }, {
      cause, code: 'BPF_LOAD_SYSTEM', hint: 'per-CPU maps need sysfs mounted at /sys',
    });
  }
}

/** Bytes per CPU slot of a per-CPU value. */
export function perCpuStride(valueSize: number): number {
  return (valueSize + 7) & ~7;
}

/**
 * The kernel's layout of one per-CPU value as an array of `cpus` values,
 * each in its own `stride`-byte slot (padding written as zeros).
 */
export function perCpuValues<V, In = V>(element: Codec<V, In>, cpus: number, stride: number): Codec<V[], In[]> {
  if (element.size > stride) throw argumentError('perCpu', 'value codec', `a codec of at most ${stride} bytes (one per-CPU slot)`, element.name);
  const name = `percpu(${element.name})[${cpus}]`;
  return {
    name, size: cpus * stride, align: 8,
    decode: (b, v, o) => {
      const out = new Array<V>(cpus);
      for (let cpu = 0; cpu < cpus; cpu++) out[cpu] = element.decode(b, v, o + cpu * stride);
      return out;
    },
    encode: (x, b, v, o) => {
      if (!Array.isArray(x) || x.length !== cpus) {
        throw encodeError(
          `a per-CPU value is an array of one value per possible CPU (${cpus}), got ${Array.isArray(x) ? `an array of ${x.length}` : typeof x}`,
        );
      }
      for (let cpu = 0; cpu < cpus; cpu++) {
        const at = o + cpu * stride;
        element.encode(x[cpu]!, b, v, at);
        if (stride > element.size) b.fill(0, at + element.size, at + stride);
      }
    },
  };
}
