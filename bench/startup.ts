import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap } from '../loader/maps/bpfMap.js';
import { u32, u64 } from '../loader/maps/codecs.js';
import { DEFAULT_BPFFS, isBpffs, mountBpffs } from '../loader/bpffs/bpffs.js';
import { BPF_MAP_TYPE, mapCreate } from '../syscall/index.js';
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
  if (!isBpffs(DEFAULT_BPFFS)) mountBpffs(DEFAULT_BPFFS);
  const dir = mkdtempSync(join(DEFAULT_BPFFS, 'bpf_load_bench_'));
  const map = BpfMap.fromOwnedFd(mapCreate({ map_type: BPF_MAP_TYPE.HASH, key_size: 4, value_size: 8, max_entries: 64, map_flags: 0, map_name: 'bench_start' }));
  try {
    map.typed(u32, u64).updateBatch(Array.from({ length: 16 }, (_, i) => [i, BigInt(i)] as const));
    const pin = join(dir, 'flows');
    map.pin(pin);
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
    map.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
