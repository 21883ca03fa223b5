import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap } from '../loader/maps/bpfMap.js';
import { DEFAULT_BPFFS, isBpffs, mountBpffs } from '../loader/bpffs/bpffs.js';
import { mapCreate } from '../syscall/index.js';

/**
 * What the sections that time `load-kern-object dump` share: maps of u32
 * keys and u64 values, made for the run, and a directory on bpffs to pin
 * them in, which `removeAll()` takes away with the maps.
 */
export class PinnedBenchMaps {
  readonly dir: string;
  readonly #maps: BpfMap[] = [];

  constructor() {
    if (!isBpffs(DEFAULT_BPFFS)) mountBpffs(DEFAULT_BPFFS);
    this.dir = mkdtempSync(join(DEFAULT_BPFFS, 'bpf_load_bench_'));
  }

  /** A new map of `type`, key u32 and value u64; removeAll() closes it. */
  create(type: number, name: string, maxEntries: number): BpfMap {
    const map = BpfMap.fromOwnedFd(mapCreate({ map_type: type, key_size: 4, value_size: 8, max_entries: maxEntries, map_flags: 0, map_name: name }));
    this.#maps.push(map);
    return map;
  }

  /** Pin `map` in the directory; returns the pin's path. */
  pin(map: BpfMap, pinName: string): string {
    const path = join(this.dir, pinName);
    map.pin(path);
    return path;
  }

  removeAll(): void {
    for (const map of this.#maps) map.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
