// Working with a spec as data: copies to edit, and the orders the samples API numbers things in.

import type { MapSpec, ObjectSpec, ProgramSpec } from './types.js';

/** A deep copy of a spec (or of one map or program spec), to edit without touching the original. */
export function copySpec<T extends ObjectSpec | MapSpec | ProgramSpec>(spec: T): T {
  return structuredClone(spec);
}

/**
 * The maps in map_fd[] order: those of the `maps` section by the offset of
 * their definition (bpf_load.c's order), then any added to the spec, in the
 * order they were added.
 */
export function mapOrder(spec: Pick<ObjectSpec, 'maps'>): MapSpec[] {
  const maps = Object.values(spec.maps);
  const offset = (m: MapSpec): number => (m.source.kind === 'maps' ? m.source.offset : Infinity);
  return maps.every((m, i) => i === 0 || offset(maps[i - 1]!) <= offset(m)) ? maps : maps.sort((a, b) => (offset(a) === offset(b) ? 0 : offset(a) < offset(b) ? -1 : 1));
}

/** The programs in prog_fd[] order: by section index (sort is stable for programs added to the spec). */
export function programOrder(spec: Pick<ObjectSpec, 'programs'>): ProgramSpec[] {
  const programs = Object.values(spec.programs);
  return programs.every((p, i) => i === 0 || programs[i - 1]!.sectionIndex <= p.sectionIndex)
    ? programs
    : programs.sort((a, b) => a.sectionIndex - b.sectionIndex);
}
