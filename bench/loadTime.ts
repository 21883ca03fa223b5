import { readdirSync } from 'node:fs';
import elfy from 'elfy';
import { join } from 'node:path';
import { loadBpfFile, loadBpfFileSync } from '../loader/load/loadBpfFile.js';
import { overrideBpfSyscall } from '../syscall/index.js';
import { median } from './stats.js';
import { compileLibrary } from './compile.js';
import { addressReader, recordLoadFloor, type LoadFloor } from './loadFloor.js';
import { readObjectFileSync } from '../loader/load/readObject.js';

/**
 * Whole-object load time: loadBpfFileSync() and loadBpfFile() (read, parse,
 * create maps, relocate, load programs, close) against bench/c/loadbench.c,
 * a bpf_load.c-style loader on raw bpf(2), on the repo's fixtures that both
 * load. Median of the rounds per object, the three alternating.
 */

export interface LoadTimeRow {
  object: string;
  cUs: number;
  syncUs: number;
  asyncUs: number;
  /** of a load, µs inside bpf(2): C's, the sync load's and the async load's (medians over the same loads) */
  cBpfUs: number;
  syncBpfUs: number;
  asyncBpfUs: number;
  /**
   * median over rounds of (async − sync) outside bpf(2), in µs: what the async
   * call itself adds. The kernel's time for one object can move by
   * milliseconds from one load to the next (a big map's allocation waits on
   * the freeing of the last one's), which a difference of the two medians
   * would take for the loader's
   */
  asyncOverUs: number;
  /** the same system calls made from Node with nothing else (loadFloor.ts); undefined when the load cannot be replayed */
  floorUs: number | undefined;
  /**
   * elfy.parse() of the object's bytes (already read), alone, in the same
   * rounds: what the ELF container reader the project is built on costs
   * before bpf-load reads anything of its own
   */
  elfyUs: number;
}

export interface LoadTimeResult {
  rows: LoadTimeRow[];
  /** objects left out, and why */
  skipped: string[];
}

interface CLoader {
  /** ns of one whole load, or < 0 when the C loader cannot take the object (-2: bpf-to-bpf calls) */
  load(path: string): number;
  /** ns the last load spent inside bpf(2) */
  lastBpfNs(): number;
  /** reads what an attr points to, for the floor's recording */
  memory: ReturnType<typeof addressReader>;
}

function buildLoader(source: string, library: string): CLoader {
  const lib = compileLibrary(source, library);
  const bench = lib.func('double bench_load(const char *path)');
  const lastBpf = lib.func('double bench_last_bpf_ns(void)');
  return { load: (path) => bench(path) as number, lastBpfNs: () => lastBpf() as number, memory: addressReader(lib) };
}

/** One load with every bpf(2) call timed: [ns of the load, ns inside bpf(2)]. */
async function splitNs(load: () => number | Promise<number>): Promise<[number, number]> {
  let inside = 0;
  const restore = overrideBpfSyscall((cmd, attr, size, real) => {
    const t0 = process.hrtime.bigint();
    const ret = real(cmd, attr, size);
    inside += Number(process.hrtime.bigint() - t0);
    return ret;
  });
  try {
    return [await load(), inside];
  } finally {
    restore();
  }
}

function syncNs(path: string): number {
  const t0 = process.hrtime.bigint();
  loadBpfFileSync(path).close();
  return Number(process.hrtime.bigint() - t0);
}

function elfyNs(bytes: Buffer): number {
  const t0 = process.hrtime.bigint();
  elfy.parse(bytes);
  return Number(process.hrtime.bigint() - t0);
}

async function asyncNs(path: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  (await loadBpfFile(path)).close();
  return Number(process.hrtime.bigint() - t0);
}

/**
 * Rounds of loads of every object before any is timed. V8 optimises a
 * function after enough calls: without them the first objects measured
 * (cgroup_skb, events…) ran bpf-load's code partly unoptimised, at up to 2.5×
 * its steady time, while the C loader is compiled ahead of time. What one
 * load in a fresh process costs is the CLI's start-up, measured in `startup`.
 */
export async function runLoadTime(repo: string, rounds: number, warmupRounds: number): Promise<LoadTimeResult> {
  const cLoader = buildLoader(join(repo, 'bench', 'c', 'loadbench.c'), join(repo, 'bench', 'build', 'libloadbench.so'));
  const fixtures = join(repo, 'fixtures');
  const skipped: string[] = [];
  const objects: string[] = [];
  for (const name of readdirSync(fixtures).filter((f) => f.endsWith('.o')).sort()) {
    const path = join(fixtures, name);
    const c = cLoader.load(path);
    if (c === -2) {
      skipped.push(`${name}: bpf-to-bpf calls, which the C loader does not link`);
      continue;
    }
    if (c < 0) {
      skipped.push(`${name}: the C loader cannot load it`);
      continue;
    }
    try {
      syncNs(path);
      await asyncNs(path);
    } catch (error) {
      skipped.push(`${name}: bpf-load refuses it (${(error as Error).message.split('\n')[0]})`);
      continue;
    }
    objects.push(name);
  }
  const floors = new Map<string, LoadFloor | string>();
  for (const name of objects) floors.set(name, recordLoadFloor(join(fixtures, name), cLoader.memory));
  for (let round = 0; round < warmupRounds; round++) {
    for (const name of objects) {
      const path = join(fixtures, name);
      cLoader.load(path);
      syncNs(path);
      if (round % 10 === 0) await asyncNs(path);
      const floor = floors.get(name);
      if (typeof floor === 'object') floor.replayNs();
    }
  }
  const rows: LoadTimeRow[] = [];
  for (const name of objects) {
    const path = join(fixtures, name);
    const floor = floors.get(name)!;
    if (typeof floor === 'string') skipped.push(`${name}: no floor (${floor})`);
    const floorNs: number[] = [];
    const c: number[] = [];
    const sync: number[] = [];
    const async: number[] = [];
    const cBpf: number[] = [];
    const syncBpf: number[] = [];
    const asyncBpf: number[] = [];
    const elfyParse: number[] = [];
    const bytes = readObjectFileSync(path) as Buffer;
    // the time inside bpf(2) is taken in the same loads (timing a call costs ~0.1 µs, under 0.5% of any load here)
    const cSide = (): void => {
      c.push(cLoader.load(path));
      cBpf.push(cLoader.lastBpfNs());
    };
    const syncSide = async (): Promise<void> => {
      const [total, inside] = await splitNs(() => syncNs(path));
      sync.push(total);
      syncBpf.push(inside);
    };
    const asyncSide = async (): Promise<void> => {
      const [total, inside] = await splitNs(() => asyncNs(path));
      async.push(total);
      asyncBpf.push(inside);
    };
    const floorSide = (): void => {
      if (typeof floor === 'object') floorNs.push(floor.replayNs());
    };
    // after the floor, as a load's parse comes after its read: with the caches as the kernel's work left them
    const elfySide = (): void => {
      elfyParse.push(elfyNs(bytes));
    };
    for (let round = 0; round < rounds; round++) {
      // who goes first alternates: the kernel frees closed maps later, from a workqueue
      if (round % 2 === 0) {
        cSide();
        floorSide();
        elfySide();
        await syncSide();
        await asyncSide();
      } else {
        await asyncSide();
        await syncSide();
        floorSide();
        elfySide();
        cSide();
      }
    }
    rows.push({
      object: name, cUs: median(c) / 1000, syncUs: median(sync) / 1000, asyncUs: median(async) / 1000,
      cBpfUs: median(cBpf) / 1000, syncBpfUs: median(syncBpf) / 1000, asyncBpfUs: median(asyncBpf) / 1000,
      // paired by round: the two loads of a round ran back to back
      asyncOverUs: median(async.map((total, i) => total - asyncBpf[i]! - (sync[i]! - syncBpf[i]!))) / 1000,
      floorUs: floorNs.length ? median(floorNs) / 1000 : undefined,
      elfyUs: median(elfyParse) / 1000,
    });
  }
  return { rows, skipped };
}
