import { spawnSync } from 'node:child_process';
import type { BpfMap } from '../loader/maps/bpfMap.js';
import { u32, u64 } from '../loader/maps/codecs.js';
import { BPF_MAP_TYPE } from '../syscall/index.js';
import { PinnedBenchMaps } from './pinnedMaps.js';
import type { CBench } from './tsBench.js';

/**
 * `load-kern-object dump` of maps of DUMP_ENTRIES entries (key u32, value
 * u64): peak RSS (GNU time's %M) and wall time of the whole process, output
 * to /dev/null, for text, --json and a per-CPU map.
 */

export const DUMP_ENTRIES = 1 << 20;

export interface DumpResult {
  name: string;
  peakMb: number;
  seconds: number;
  /** the same dump by `baseline` (another checkout's bin.js), when given */
  baseline?: { peakMb: number; seconds: number };
}

function fillPerCpu(map: BpfMap): void {
  const view = map.perCpu(u32, u64);
  const slots = map.possibleCpus;
  const step = 65536;
  for (let start = 0; start < DUMP_ENTRIES; start += step) {
    const entries: [number, bigint[]][] = [];
    for (let key = start; key < start + step; key++) entries.push([key, Array.from({ length: slots }, (_, cpu) => BigInt(key * 3 + cpu))]);
    view.updateBatch(entries);
  }
}

/** One whole process under GNU time: [peak RSS in MB, seconds]. */
function measure(cli: string, args: string[]): [number, number] {
  const child = spawnSync('/usr/bin/time', ['-f', '%M %e', process.execPath, cli, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (child.status !== 0) throw new Error(`dump ${args.join(' ')} failed: ${child.stderr}`);
  // GNU time's line is the last one on stderr
  const [kb, seconds] = child.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return [kb! / 1024, seconds!];
}

export function runDumpBench(cSide: CBench, cli: string, baseline?: string): DumpResult[] {
  const maps = new PinnedBenchMaps();
  try {
    const hash = maps.create(BPF_MAP_TYPE.HASH, 'bench_dump', DUMP_ENTRIES);
    const perCpu = maps.create(BPF_MAP_TYPE.PERCPU_HASH, 'bench_dump_pcpu', DUMP_ENTRIES);
    cSide.fill(hash.fd);
    fillPerCpu(perCpu);
    const hashPin = maps.pin(hash, 'hash');
    const perCpuPin = maps.pin(perCpu, 'percpu');
    const runs: [string, string[]][] = [
      ['hash, text (hex)', ['dump', hashPin]],
      ['hash, --json (hex)', ['dump', hashPin, '--json']],
      ['hash, text, u32/u64', ['dump', hashPin, '--key', 'u32', '--value', 'u64']],
      ['percpu_hash, text (hex)', ['dump', perCpuPin]],
      ['percpu_hash, --json, u32/u64', ['dump', perCpuPin, '--json', '--key', 'u32', '--value', 'u64']],
    ];
    return runs.map(([name, args]) => {
      const [peakMb, seconds] = measure(cli, args);
      if (baseline === undefined) return { name, peakMb, seconds };
      const [basePeak, baseSeconds] = measure(baseline, args);
      return { name, peakMb, seconds, baseline: { peakMb: basePeak, seconds: baseSeconds } };
    });
  } finally {
    maps.removeAll();
  }
}
