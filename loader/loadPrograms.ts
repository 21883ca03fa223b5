import type { ObjectSpec } from '../elf/index.js';
import type { BpfMap } from './bpfMap.js';
import type { BpfProgram } from './bpfProgram.js';
import type { Cleanup } from './cleanup.js';
import type { LoadOptions } from './options.js';

/** Relocate, load and (with options.attach) attach the object's programs. */
export function loadPrograms(
  _spec: ObjectSpec,
  _maps: readonly BpfMap[],
  _options: LoadOptions,
  _cleanup: Cleanup,
): BpfProgram[] {
  return [];
}
