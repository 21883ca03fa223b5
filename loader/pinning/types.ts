import type { MapDef, MapSpec } from '../../elf/index.js';
import type { BpfFd } from '../../syscall/index.js';
import type { BpfMap } from '../maps/bpfMap.js';
import type { BpfProgram } from '../programs/bpfProgram.js';

/** What pinning asks of map creation. */
export interface MapCreateHooks {
  /**
   * Asked before a map is created: return an fd to use instead (pinned-map
   * reuse), or undefined to create it. The returned BpfFd is taken over.
   */
  resolveExisting?: ((spec: MapSpec, def: MapDef) => BpfFd | undefined) | undefined;
  /**
   * Told of a map just created, before the next one is: may publish it at once and hand back the map
   * to use instead when another loader published one first (tc's shared maps). The returned BpfFd is
   * taken over; when it is not `created`, createMaps closes `created`.
   */
  publishCreated?: ((spec: MapSpec, def: MapDef, created: BpfFd) => BpfFd) | undefined;
  /** index of the inner-map template of a map-in-map, when not def.inner_map_idx (tc's inner_id) */
  innerTemplateIndex?: ((spec: MapSpec, def: MapDef) => number) | undefined;
}

/** What pinning adds to a load: hooks into map creation, and pins made once objects exist. */
export interface PinningPlan {
  createHooks: MapCreateHooks;
  pinMaps(maps: readonly BpfMap[]): void;
  pinPrograms(programs: readonly BpfProgram[]): void;
  /** the load succeeded: let go of what was kept only to undo a failure */
  commit(): void;
}

