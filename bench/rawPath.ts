import { BpfMap } from '../loader/maps/bpfMap.js';
import { u32, u64 } from '../loader/maps/codecs.js';
import { BPF_ANY, BPF_MAP_TYPE, MapElementOps, mapCreate } from '../syscall/index.js';
import { ENTRIES, keyAt, type CBench } from './tsBench.js';

/**
 * The raw map path (Buffers in, Buffers out) against the typed view (u32 →
 * number, u64 → bigint), the koffi floor (the same bpf(2) call with the key
 * written straight into the scratch memory, nothing else) and C, on one hash
 * map of ENTRIES entries, with the same key sequence. ns per operation, best
 * of the rounds, every side alternating.
 */

export const RAW_OPS = ['lookup', 'lookupInto', 'update', 'delete', 'getNextKey', 'getNextKeyInto'] as const;
export type RawOp = (typeof RAW_OPS)[number];
export const RAW_SIDES = ['c', 'floor', 'typed', 'raw'] as const;
export type RawSide = (typeof RAW_SIDES)[number];
export type RawResults = Record<RawOp, Partial<Record<RawSide, number>>>;

let sink: unknown;

function perOp(start: bigint, n: number): number {
  return Number(process.hrtime.bigint() - start) / n;
}

type Runner = (n: number) => number;

function floorRunners(elem: MapElementOps, fd: number): Record<RawOp, Runner> {
  const lookup: Runner = (n) => {
    let found = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      elem.keyView.setUint32(0, keyAt(i), true);
      if (elem.mapLookupElem(fd) === 0) found++;
    }
    const result = perOp(t0, n);
    sink = found;
    return result;
  };
  const getNextKey: Runner = (n) => {
    const t0 = process.hrtime.bigint();
    let ret = elem.mapGetNextKey(fd, true);
    for (let i = 1; i < n && ret === 0; i++) {
      elem.key.set(elem.nextKey);
      ret = elem.mapGetNextKey(fd, false);
    }
    return perOp(t0, n);
  };
  return {
    lookup,
    lookupInto: lookup,
    getNextKey,
    getNextKeyInto: getNextKey,
    update: (n) => {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        elem.keyView.setUint32(0, keyAt(i), true);
        elem.valueView.setBigUint64(0, 7n, true);
        if (elem.mapUpdateElem(fd, BPF_ANY) !== 0) throw new Error('floor update failed');
      }
      return perOp(t0, n);
    },
    delete: (n) => {
      let failures = 0;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        elem.keyView.setUint32(0, keyAt(i), true);
        if (elem.mapDeleteElem(fd) !== 0) failures++;
      }
      const result = perOp(t0, n);
      sink = failures;
      return result;
    },
  };
}

function typedRunners(map: BpfMap): Record<RawOp, Runner> {
  const typed = map.typed(u32, u64);
  const out = Buffer.alloc(8);
  const getNextKey: Runner = (n) => {
    const t0 = process.hrtime.bigint();
    let key = typed.getNextKey();
    for (let i = 1; i < n && key !== undefined; i++) key = typed.getNextKey(key);
    const result = perOp(t0, n);
    sink = key;
    return result;
  };
  return {
    // a u32 key is a number: the typed walk allocates nothing already, so it is the typed side of both rows
    getNextKey,
    getNextKeyInto: getNextKey,
    lookup: (n) => {
      let sum = 0n;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        const value = typed.lookup(keyAt(i));
        if (value !== undefined) sum += value;
      }
      const result = perOp(t0, n);
      sink = sum;
      return result;
    },
    lookupInto: (n) => {
      let found = 0;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) if (typed.lookupInto(keyAt(i), out)) found++;
      const result = perOp(t0, n);
      sink = found;
      return result;
    },
    update: (n) => {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) typed.update(keyAt(i), 7n);
      return perOp(t0, n);
    },
    delete: (n) => {
      let failures = 0;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) if (!typed.delete(keyAt(i))) failures++;
      const result = perOp(t0, n);
      sink = failures;
      return result;
    },
  };
}

/** Buffers the way a caller of the raw view has them: one key buffer rewritten per call. */
function rawRunners(map: BpfMap): Record<RawOp, Runner> {
  const key = Buffer.alloc(4);
  const value = Buffer.alloc(8);
  value.writeBigUInt64LE(7n);
  const out = Buffer.alloc(8);
  return {
    lookup: (n) => {
      let bytes = 0;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        key.writeUInt32LE(keyAt(i));
        const found = map.lookup(key);
        if (found !== undefined) bytes += found.byteLength;
      }
      const result = perOp(t0, n);
      sink = bytes;
      return result;
    },
    lookupInto: (n) => {
      let found = 0;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        key.writeUInt32LE(keyAt(i));
        if (map.lookupInto(key, out)) found++;
      }
      const result = perOp(t0, n);
      sink = found;
      return result;
    },
    update: (n) => {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        key.writeUInt32LE(keyAt(i));
        map.update(key, value);
      }
      return perOp(t0, n);
    },
    delete: (n) => {
      let failures = 0;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        key.writeUInt32LE(keyAt(i));
        if (!map.delete(key)) failures++;
      }
      const result = perOp(t0, n);
      sink = failures;
      return result;
    },
    getNextKey: (n) => {
      const t0 = process.hrtime.bigint();
      let next = map.getNextKey();
      for (let i = 1; i < n && next !== undefined; i++) next = map.getNextKey(next);
      const result = perOp(t0, n);
      sink = next;
      return result;
    },
    getNextKeyInto: (n) => {
      const t0 = process.hrtime.bigint();
      let more = map.getNextKeyInto(undefined, key);
      for (let i = 1; i < n && more; i++) more = map.getNextKeyInto(key, key);
      const result = perOp(t0, n);
      sink = more;
      return result;
    },
  };
}

export function runRawPath(cSide: CBench, n: number, rounds: number): RawResults {
  const map = BpfMap.fromOwnedFd(
    mapCreate({ map_type: BPF_MAP_TYPE.HASH, key_size: 4, value_size: 8, max_entries: ENTRIES, map_flags: 0, map_name: 'bench_raw' }),
  );
  const elem = new MapElementOps(4, 8);
  try {
    const fd = map.fd;
    cSide.fill(fd);
    const c: Record<RawOp, Runner> = {
      lookup: (k) => cSide.lookup(fd, k),
      lookupInto: (k) => cSide.lookup(fd, k),
      update: (k) => cSide.update(fd, k),
      delete: (k) => cSide.delete(fd, k),
      getNextKey: (k) => cSide.nextKey(fd, k),
      getNextKeyInto: (k) => cSide.nextKey(fd, k),
    };
    const sides: Record<RawSide, Record<RawOp, Runner>> = {
      c, floor: floorRunners(elem, fd), typed: typedRunners(map), raw: rawRunners(map),
    };
    for (const side of RAW_SIDES) for (const op of RAW_OPS) if (op !== 'delete') sides[side][op](20000);
    const best = Object.fromEntries(RAW_OPS.map((op) => [op, {}])) as RawResults;
    // many short samples, the order rotated every round: each side gets the same
    // chances at a quiet moment and at caches the previous side warmed
    for (let round = 0; round < rounds; round++) {
      const order = RAW_SIDES.map((_, i) => RAW_SIDES[(i + round) % RAW_SIDES.length]!);
      for (const op of RAW_OPS) {
        for (const side of order) {
          const ns = sides[side][op](n);
          if (op === 'delete') cSide.refill(fd, n);
          if (process.env['BENCH_VERBOSE']) console.log(`  round ${round} raw ${op} ${side} ${ns.toFixed(0)}`);
          best[op][side] = Math.min(best[op][side] ?? Infinity, ns);
        }
      }
    }
    return best;
  } finally {
    elem.free();
    map.close();
  }
}

export function rawSink(): unknown {
  return sink;
}
