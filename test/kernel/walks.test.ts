import { expect } from 'chai';
import { BPF_MAP_TYPE, u32, u64 } from '../../loader/index.js';
import { BPF_F_NO_PREALLOC, BPF_MAP_LOOKUP_AND_DELETE_BATCH, BPF_MAP_LOOKUP_BATCH, errno, overrideBpfSyscall } from '../../syscall/index.js';
import { requireKernel } from '../support/kernel.js';
import { createTestMap } from '../support/maps.js';

const ENTRIES = 10000;

/** LPM trie keys are { u32 prefixlen; u8 data[4] }: one /32 per entry, as a u64. */
const lpmKey = (i: number): bigint => 32n | (BigInt(i) << 32n);
const hashKey = (i: number): bigint => BigInt(i) * 7919n;

const MAP_TYPES = [
  { name: 'LPM trie', type: BPF_MAP_TYPE.LPM_TRIE, flags: BPF_F_NO_PREALLOC, key: lpmKey },
  { name: 'hash', type: BPF_MAP_TYPE.HASH, flags: 0, key: hashKey },
  { name: 'LRU hash', type: BPF_MAP_TYPE.LRU_HASH, flags: 0, key: hashKey },
];

type Deleter = (yielded: number, key: bigint, remove: (key: bigint) => void, keyOf: (i: number) => bigint) => void;

/** What the loop body deletes as it walks. */
const SCENARIOS: { name: string; body: Deleter }[] = [
  // every second key it is given: a batch of 4096 ends on one, so its cursor is deleted
  { name: 'the current key, every second one', body: (n, key, remove) => (n % 2 === 1 ? remove(key) : undefined) },
  // keys it has not been given yet (or has), chosen by a fixed sequence
  { name: 'keys ahead', body: (n, _key, remove, keyOf) => (n % 3 === 0 ? remove(keyOf((n * 7717 + 13) % ENTRIES)) : undefined) },
  { name: 'the current key and keys ahead', body: (n, key, remove, keyOf) => {
    if (n % 2 === 1) remove(key);
    if (n % 5 === 0) remove(keyOf((n * 4099 + 1) % ENTRIES));
  } },
];

describe('kernel: walks with deletions yield no key twice and every key present throughout', function () {
  this.timeout(60000);
  before(function () {
    requireKernel(this);
  });

  for (const mapType of MAP_TYPES) {
    for (const scenario of SCENARIOS) {
      for (const path of ['batch', 'get_next_key'] as const) {
        it(`${mapType.name}, deleting ${scenario.name} [${path}]`, () => {
          using map = createTestMap({ type: mapType.type, key: 8, value: 4, max: ENTRIES * 2, flags: mapType.flags });
          const typed = map.typed(u64, u32);
          for (let i = 0; i < ENTRIES; i++) typed.update(mapType.key(i), i);
          const deleted = new Set<bigint>();
          const remove = (key: bigint): void => {
            deleted.add(key);
            typed.delete(key);
          };
          let batchCalls = 0;
          const restore = overrideBpfSyscall((cmd, attr, size, real) => {
            if (cmd === BPF_MAP_LOOKUP_BATCH || cmd === BPF_MAP_LOOKUP_AND_DELETE_BATCH) {
              batchCalls++;
              if (path === 'get_next_key') return -errno.EINVAL;
            }
            return real(cmd, attr, size);
          });
          const yielded: bigint[] = [];
          try {
            for (const key of typed.keys()) {
              yielded.push(key);
              scenario.body(yielded.length - 1, key, remove, mapType.key);
            }
          } finally {
            restore();
          }
          expect(batchCalls, 'the walk took the path under test').to.be.greaterThan(path === 'batch' ? 1 : 0);
          const twice = yielded.length - new Set(yielded).size;
          expect(twice, 'keys yielded twice').to.equal(0);
          const stable = Array.from({ length: ENTRIES }, (_, i) => mapType.key(i)).filter((k) => !deleted.has(k));
          const seen = new Set(yielded);
          expect(stable.filter((k) => !seen.has(k)).length, 'keys present throughout that were not yielded').to.equal(0);
          expect(deleted.size).to.be.greaterThan(0);
        });
      }
    }
  }
});
