import { BPF_MAP_TYPE as T } from '../../syscall/index.js';

/** What each fixture's C source declares, in offset order: [name, type, key, value, max_entries, flags]. */
export type ExpectedMap = [name: string, type: number, key: number, value: number, max: number, flags: number];

export const EXPECTED_MAPS: Record<string, { defSize: number; maps: ExpectedMap[] }> = {
  'map_def16_kern.o': {
    defSize: 16,
    maps: [
      ['counters', T.ARRAY, 4, 8, 256, 0],
      ['flows', T.HASH, 8, 16, 1024, 0],
      ['per_cpu_stats', T.PERCPU_ARRAY, 4, 24, 4, 0],
    ],
  },
  'map_def20_kern.o': {
    defSize: 20,
    maps: [
      ['lru_flows', T.LRU_HASH, 16, 8, 4096, 2],
      ['sparse_hash', T.HASH, 4, 4, 100000, 1],
      ['lru_percpu', T.LRU_PERCPU_HASH, 4, 8, 512, 0],
      ['percpu_hash', T.PERCPU_HASH, 4, 8, 128, 0],
    ],
  },
  'map_def24_kern.o': {
    defSize: 24,
    maps: [
      ['inner_template', T.ARRAY, 4, 4, 8, 0],
      // map-in-map values are map fds: 4 bytes whatever the def says (0 here)
      ['outer_array', T.ARRAY_OF_MAPS, 4, 4, 4, 0],
    ],
  },
  'map_def28_kern.o': {
    defSize: 28,
    maps: [
      ['inner_array', T.ARRAY, 4, 8, 16, 0],
      ['array_of_maps', T.ARRAY_OF_MAPS, 4, 4, 8, 0],
      ['hash_of_maps', T.HASH_OF_MAPS, 4, 4, 8, 0],
      ['inner_hash', T.HASH, 4, 4, 32, 0],
      ['numa_hash', T.HASH, 8, 8, 64, 4],
      ['percpu_array', T.PERCPU_ARRAY, 4, 12, 8, 0],
      ['lru_percpu_hash', T.LRU_PERCPU_HASH, 4, 16, 64, 0],
      ['name_longer_than_fifteen', T.ARRAY, 4, 4, 1, 0],
    ],
  },
  'map_def32_zero_tail_kern.o': {
    defSize: 32,
    maps: [
      ['first', T.HASH, 4, 8, 10, 0],
      ['second', T.ARRAY, 4, 4, 2, 0],
    ],
  },
  'static_maps_kern.o': {
    defSize: 28,
    maps: [
      ['first', T.ARRAY, 4, 8, 4, 0],
      ['second', T.HASH, 4, 8, 16, 0],
    ],
  },
  'no_maps_kern.o': { defSize: 0, maps: [] },
  'many_maps_kern.o': {
    defSize: 28,
    maps: Array.from({ length: 70 }, (_, n): ExpectedMap => [`map_${n}`, T.ARRAY, 4, 4, n + 1, 0]),
  },
  // fixtures that also carry programs
  'sockex1_kern.o': { defSize: 28, maps: [['my_map', T.ARRAY, 4, 8, 256, 0]] },
  'xdp1_kern.o': { defSize: 28, maps: [['rxcnt', T.PERCPU_ARRAY, 4, 8, 256, 0]] },
  'syscount_kern.o': { defSize: 28, maps: [['syscalls_by_tgid', T.HASH, 4, 8, 10240, 0]] },
  'socket_count_kern.o': { defSize: 28, maps: [['counts', T.ARRAY, 4, 8, 2, 0]] },
  'tracing_kern.o': { defSize: 28, maps: [['hits', T.ARRAY, 4, 8, 2, 0]] },
  'kprobe_kern.o': { defSize: 28, maps: [['jmp_table', T.PROG_ARRAY, 4, 4, 4, 0]] },
  'tailcall_kern.o': {
    defSize: 28,
    maps: [
      ['counters', T.ARRAY, 4, 8, 4, 0],
      ['jmp_table', T.PROG_ARRAY, 4, 4, 8, 0],
    ],
  },
  'calls_kern.o': {
    defSize: 28,
    maps: [
      ['totals', T.HASH, 4, 8, 16, 0],
      ['last_len', T.HASH, 4, 8, 4, 0],
    ],
  },
  'cgroup_skb_kern.o': { defSize: 28, maps: [['cgroup_packets', T.ARRAY, 4, 8, 2, 0]] },
  // built with -g: .BTF, .BTF.ext, DWARF and their .rel.* sections must not get in the way
  'debuginfo_g_kern.o': {
    defSize: 28,
    maps: [
      ['proto_bytes', T.ARRAY, 4, 8, 256, 0],
      ['seen_lengths', T.HASH, 4, 8, 64, 0],
    ],
  },
};
