import { BpfMap } from '../loader/maps/bpfMap.js';
import { u32, u64 } from '../loader/maps/codecs.js';
import type { TypedMap } from '../loader/maps/typedMap.js';
import { BPF_MAP_TYPE, mapCreate } from '../syscall/index.js';

/**
 * The TypeScript side of the benchmark: the same maps, key sequence and
 * batch size as bench/c/mapbench.c, through the public API (typed views with
 * u32 keys and u64 values, decoded to number / bigint).
 */

export const ENTRIES = 1 << 20;

type CounterMap = TypedMap<number, bigint>;

export function keyAt(i: number): number {
  return Math.imul(i, 2654435761 | 0) & (ENTRIES - 1);
}

function createMap(type: number, maxEntries: number, name: string): BpfMap {
  const owner = mapCreate({ map_type: type, key_size: 4, value_size: 8, max_entries: maxEntries, map_flags: 0, map_name: name });
  return BpfMap.fromOwnedFd(owner);
}

let sink: unknown;

function perOp(start: bigint, n: number): number {
  return Number(process.hrtime.bigint() - start) / n;
}

function runLookup(map: CounterMap, n: number): number {
  let sum = 0n;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const value = map.lookup(keyAt(i));
    if (value !== undefined) sum += value;
  }
  const result = perOp(t0, n);
  sink = sum;
  return result;
}

function runUpdate(map: CounterMap, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) map.update(keyAt(i), 7n);
  return perOp(t0, n);
}

function runDelete(map: CounterMap, n: number, expectFailure: boolean): number {
  let failures = 0;
  const t0 = process.hrtime.bigint();
  if (expectFailure) {
    // array entries cannot be deleted: each call is the kernel's EINVAL path, reported as an error
    for (let i = 0; i < n; i++) {
      try {
        map.delete(keyAt(i));
      } catch {
        failures++;
      }
    }
  } else {
    for (let i = 0; i < n; i++) if (!map.delete(keyAt(i))) failures++;
  }
  const result = perOp(t0, n);
  sink = failures;
  return result;
}

function runNextKey(map: CounterMap, n: number): number {
  const t0 = process.hrtime.bigint();
  let key = map.getNextKey();
  for (let i = 1; i < n && key !== undefined; i++) key = map.getNextKey(key);
  const result = perOp(t0, n);
  sink = key;
  return result;
}

/** ns per entry: every key and value decoded (u32 → number, u64 → bigint) and summed, like the C side. */
function runBatchWalk(map: CounterMap): number {
  let keys = 0;
  let values = 0n;
  let count = 0;
  const t0 = process.hrtime.bigint();
  map.forEach((key, value) => {
    keys += key;
    values += value;
    count++;
  });
  const result = perOp(t0, count);
  if (count !== ENTRIES) throw new Error(`batch walk saw ${count} entries`);
  sink = [keys, values];
  return result;
}

/**
 * The kernel frees a closed map later, from a workqueue: without a pause the
 * side that runs second would pay for the first side's 100 frees.
 */
function settle(): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
}

function runCreate(count: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    mapCreate({ map_type: BPF_MAP_TYPE.HASH, key_size: 4, value_size: 8, max_entries: 1024, map_flags: 0 }).close();
  }
  return perOp(t0, count);
}

export const MEASUREMENTS = [
  'hash.lookup', 'hash.update', 'hash.delete', 'hash.get_next_key',
  'array.lookup', 'array.update', 'array.delete', 'array.get_next_key',
  'hash.batch_walk', 'array.batch_walk', 'create_map',
] as const;

export type Measurement = (typeof MEASUREMENTS)[number];

/** The C side (bench/c/mapbench.c), loaded from the shared library the runner built. */
export interface CBench {
  fill(fd: number): void;
  refill(fd: number, n: number): void;
  lookup(fd: number, n: number): number;
  update(fd: number, n: number): number;
  delete(fd: number, n: number): number;
  nextKey(fd: number, n: number): number;
  batchWalk(fd: number): number;
  create(count: number): number;
}

export type Results = Record<Measurement, { c: number; ts: number }>;

/**
 * Best of `rounds` for every measurement, in ns per operation (per entry for
 * walks, per map for create), C and TypeScript alternating on the same maps
 * (who goes first alternates too).
 */
export function runBench(cSide: CBench, n: number, rounds: number): Results {
  const hashMap = createMap(BPF_MAP_TYPE.HASH, ENTRIES, 'bench_hash');
  const arrayMap = createMap(BPF_MAP_TYPE.ARRAY, ENTRIES, 'bench_array');
  try {
    const hash = hashMap.typed(u32, u64);
    const array = arrayMap.typed(u32, u64);
    cSide.fill(hashMap.fd);
    cSide.fill(arrayMap.fd);
    // warm up the JIT on every path before measuring
    runLookup(hash, 20000);
    runUpdate(hash, 20000);
    runNextKey(hash, 20000);
    runDelete(array, 2000, true);
    runCreate(5);
    const best = Object.fromEntries(MEASUREMENTS.map((m) => [m, { c: Infinity, ts: Infinity }])) as Results;
    const h = hashMap.fd;
    const a = arrayMap.fd;
    const plan: [Measurement, () => number, () => number, (() => void)?][] = [
      ['hash.lookup', () => cSide.lookup(h, n), () => runLookup(hash, n)],
      ['hash.update', () => cSide.update(h, n), () => runUpdate(hash, n)],
      ['hash.delete', () => cSide.delete(h, n), () => runDelete(hash, n, false), () => cSide.refill(h, n)],
      ['hash.get_next_key', () => cSide.nextKey(h, n), () => runNextKey(hash, n)],
      ['array.lookup', () => cSide.lookup(a, n), () => runLookup(array, n)],
      ['array.update', () => cSide.update(a, n), () => runUpdate(array, n)],
      ['array.delete', () => cSide.delete(a, n), () => runDelete(array, n, true)],
      ['array.get_next_key', () => cSide.nextKey(a, n), () => runNextKey(array, n)],
      ['hash.batch_walk', () => cSide.batchWalk(h), () => runBatchWalk(hash)],
      ['array.batch_walk', () => cSide.batchWalk(a), () => runBatchWalk(array)],
      ['create_map', () => (settle(), cSide.create(100)), () => (settle(), runCreate(100))],
    ];
    for (let round = 0; round < rounds; round++) {
      for (const [name, c, ts, after] of plan) {
        const order = round % 2 === 0 ? (['c', 'ts'] as const) : (['ts', 'c'] as const);
        // map creation depends on the allocator and deferred frees: more samples of it
        const sides = name === 'create_map' ? [...order, ...order, ...order, ...order] : order;
        for (const side of sides) {
          const ns = side === 'c' ? c() : ts();
          if (process.env['BENCH_VERBOSE']) console.log(`  round ${round} ${name} ${side} ${ns.toFixed(0)}`);
          best[name][side] = Math.min(best[name][side], ns);
          after?.();
        }
      }
    }
    return best;
  } finally {
    hashMap.close();
    arrayMap.close();
  }
}

export function benchSink(): unknown {
  return sink;
}
