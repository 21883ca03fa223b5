import type { ObjectSpec } from '../elf/index.js';
import type { BpfMap } from './bpfMap.js';
import type { BpfProgram } from './bpfProgram.js';
import type { Cleanup } from './cleanup.js';
import type { CreateMapsOptions } from './createMaps.js';
import type { LoadOptions } from './options.js';

/** What pinning adds to a load: hooks into map creation, and pins made once objects exist. */
export interface PinningPlan {
  createHooks: Pick<CreateMapsOptions, 'resolveExisting' | 'innerTemplateIndex'>;
  pinMaps(maps: readonly BpfMap[]): void;
  pinPrograms(programs: readonly BpfProgram[]): void;
}

export function planPinning(_spec: ObjectSpec, _options: LoadOptions, _cleanup: Cleanup): PinningPlan {
  return { createHooks: {}, pinMaps: () => {}, pinPrograms: () => {} };
}
