// Working with a spec as data: copies to edit, and the orders the samples API numbers things in.

import { sortUnlessSorted } from './order.js';
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
  return sortUnlessSorted(Object.values(spec.maps), (a, b) => (offsetOf(a) === offsetOf(b) ? 0 : offsetOf(a) < offsetOf(b) ? -1 : 1));
}

function offsetOf(map: MapSpec): number {
  return map.source.kind === 'maps' ? map.source.offset : Infinity;
}

/** The programs in prog_fd[] order: by section index (sort is stable for programs added to the spec). */
export function programOrder(spec: Pick<ObjectSpec, 'programs'>): ProgramSpec[] {
  return sortUnlessSorted(Object.values(spec.programs), (a, b) => a.sectionIndex - b.sectionIndex);
}

/**
 * Rename a map of the spec and every reference to it (programs' map
 * relocations, inner-map templates, contents, tail calls). Edits `spec` in
 * place: rename in a copy to keep the original. Keeps map_fd[] order.
 */
export function renameMap(spec: ObjectSpec, from: string, to: string): void {
  const map = spec.maps[from];
  if (!map || !Object.hasOwn(spec.maps, from)) throw new Error(`renameMap: '${from}' is no map of the spec`);
  if (from === to) return;
  if (Object.hasOwn(spec.maps, to)) throw new Error(`renameMap: the spec has a map named '${to}' already`);
  const rename = (name: string | undefined): string | undefined => (name === from ? to : name);
  // rebuilt so the key order (the order maps were added in) stays as it was
  const maps: Record<string, MapSpec> = {};
  for (const [key, each] of Object.entries(spec.maps)) {
    if (each.innerMap !== undefined) each.innerMap = rename(each.innerMap)!;
    for (const content of each.contents ?? []) content.map = rename(content.map)!;
    maps[key === from ? to : key] = each;
  }
  map.name = to;
  spec.maps = maps;
  for (const program of Object.values(spec.programs)) {
    for (const relocation of program.relocations) if (relocation.kind === 'map') relocation.map = rename(relocation.map)!;
    if (program.tailCall) program.tailCall.map = rename(program.tailCall.map);
  }
}
