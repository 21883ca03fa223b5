import type { BpfObject } from '../../loader/index.js';
import { objectIdOf } from '../../syscall/index.js';
import type { LoadedObjectView } from '../support/libbpfOracle.js';

/** bpf-load's side of a libbpf comparison: the kernel ids of its maps and programs, by name. */
export function viewOf(obj: BpfObject): LoadedObjectView {
  return {
    maps: Object.fromEntries(obj.maps.map((m) => [m.name, objectIdOf(m.fd)])),
    programs: Object.fromEntries(obj.programs.map((p) => [p.name, objectIdOf(p.fd)])),
  };
}
