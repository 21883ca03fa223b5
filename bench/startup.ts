import { spawnSync } from 'node:child_process';
import { u32, u64 } from '../loader/maps/codecs.js';
import { BPF_MAP_TYPE } from '../syscall/index.js';
import { PinnedBenchMaps } from './pinnedMaps.js';
import { median } from './stats.js';

/**
 * Start-up of whole processes: `node -e 0` against load-kern-object commands,
 * alternating (one of each per round, so both see the same machine load),
 * wall time from spawn to exit, median of the rounds.
 */

export interface StartupResult {
  name: string;
  medianMs: number;
  /** median of this command / median of `node -e 0` */
  ratio: number;
}

function wallMs(args: string[]): number {
  const t0 = process.hrtime.bigint();
  const child = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (child.status !== 0) throw new Error(`${args.join(' ')} exited ${child.status}: ${child.stderr}`);
  return ms;
}

export function runStartup(cli: string, fixture: string, rounds: number): StartupResult[] {
  const maps = new PinnedBenchMaps();
  try {
    const map = maps.create(BPF_MAP_TYPE.HASH, 'bench_start', 64);
    map.typed(u32, u64).updateBatch(Array.from({ length: 16 }, (_, i) => [i, BigInt(i)] as const));
    const pin = maps.pin(map, 'flows');
    const commands: [string, string[]][] = [
      ['node -e 0', ['-e', '0']],
      ['--dry-run FILE', [cli, '--dry-run', fixture]],
      ['--help', [cli, '--help']],
      ['dump PIN (16 entries)', [cli, 'dump', pin]],
    ];
    for (const [, args] of commands) wallMs(args);
    const samples = commands.map((): number[] => []);
    for (let round = 0; round < rounds; round++) {
      commands.forEach(([, args], i) => samples[i]!.push(wallMs(args)));
    }
    const base = median(samples[0]!);
    return commands.map(([name], i) => ({ name, medianMs: median(samples[i]!), ratio: median(samples[i]!) / base }));
  } finally {
    maps.removeAll();
  }
}
