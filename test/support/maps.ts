import { expect } from 'chai';
import { BpfMap } from '../../loader/maps/bpfMap.js';
import { MapError, isBpfLoadError } from '../../loader/errors.js';
import { mapCreate } from '../../syscall/index.js';

export interface TestMapDef {
  type: number;
  key: number;
  value: number;
  max: number;
  flags?: number;
  inner?: BpfMap;
  name?: string;
}

/** A map created straight with BPF_MAP_CREATE, wrapped the way openMapFd would. */
export function createTestMap(def: TestMapDef): BpfMap {
  const owner = mapCreate({
    map_type: def.type,
    key_size: def.key,
    value_size: def.value,
    max_entries: def.max,
    map_flags: def.flags ?? 0,
    inner_map_fd: def.inner?.fd ?? 0,
    map_name: def.name ?? 'test_map',
  });
  return BpfMap.fromOwnedFd(owner);
}

/** A 4-byte key in host (little-endian) order, as the raw view takes it. */
export function key32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** `fn` must throw a MapError (a bpf-load error) with this code and a message matching `message`. */
export function expectMapError(fn: () => unknown, code: string, message: RegExp): MapError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(MapError);
    expect(isBpfLoadError(error)).to.equal(true);
    expect((error as MapError).code).to.equal(code);
    expect((error as Error).message).to.match(message);
    return error as MapError;
  }
  expect.fail(`expected a MapError ${code}`);
}
