import { SyscallError, mapTypeName } from '../../syscall/index.js';
import { BpfMap } from '../maps/bpfMap.js';
import { LoadError, MapError } from '../errors.js';

/** A reader for a map of the wrong type (or a closed map) is refused before anything is opened. */
export function checkMapType(map: BpfMap, type: number, what: string, otherwise: string): void {
  if (!(map instanceof BpfMap)) {
    throw new LoadError(`${what}: the map must be a BpfMap (obj.map(NAME), openPinnedMap…), not ${map === null ? 'null' : typeof map}`, {}, {
      code: 'BPF_LOAD_ARGUMENT',
    });
  }
  if (map.closed) throw new MapError(map.name, `${what}: the map was closed`, { code: 'BPF_LOAD_MAP_CLOSED' });
  if (map.type !== type) {
    throw new MapError(map.name, `${what}: the map is a ${map.typeName} map, not a ${mapTypeName(type)} map`, {
      code: 'BPF_LOAD_ARGUMENT', hint: otherwise,
    });
  }
}

/** A step of opening a reader; a refused system call becomes a MapError naming the map and the step. */
export function mapStep<T>(map: BpfMap, what: string, step: () => T, hint?: string): T {
  try {
    return step();
  } catch (cause) {
    if (cause instanceof SyscallError) throw new MapError(map.name, what, { cause, ...(hint ? { hint } : {}) });
    throw cause;
  }
}
