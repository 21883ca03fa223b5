// iproute2's tc convention (struct bpf_elf_map, lib/bpf_legacy.c), in one place: what its fields and
// section names mean, turned into the spec's names at parse time. Pure: no file system, no kernel.

import { isMapInMapType } from '../uapi/bpf.js';
import type { MapPinning, MapSpec, ProgramSpec } from './types.js';

/** struct bpf_elf_map.pinning (iproute2 include/bpf_elf.h); larger values name a subpath in bpf_pinning. */
export const PIN_NONE = 0;
export const PIN_OBJECT_NS = 1;
export const PIN_GLOBAL_NS = 2;
/** inner_idx of a map that is not to be inserted into an outer map */
export const NO_INNER_IDX = 0xffffffff;


export function tcPinning(value: number): MapPinning {
  if (value === PIN_NONE) return 'none';
  if (value === PIN_OBJECT_NS) return 'object';
  if (value === PIN_GLOBAL_NS) return 'global';
  return { custom: value };
}

export function tcPinningValue(pinning: MapPinning): number {
  if (pinning === 'none') return PIN_NONE;
  if (pinning === 'object') return PIN_OBJECT_NS;
  if (pinning === 'global') return PIN_GLOBAL_NS;
  // libbpf's pin by name has no tc number
  if (pinning === 'byName') return PIN_NONE;
  return pinning.custom;
}

/** One C integer as sscanf's %i reads it: sign, then 0x hex, leading-0 octal or decimal. */
const SCANF_INT = String.raw`\s*([+-]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*))`;
const TC_SLOT = new RegExp(`^${SCANF_INT}/${SCANF_INT}`);

/**
 * tc's tail-call sections, `<map id>/<key>` read like sscanf("%i/%i") (so
 * `42/0`, `0xabccba/0` and `010/1` all count, and text after the key is
 * ignored). Values wrap to u32 as they do in tc's unsigned variables.
 */
export function tcTailCallSlot(section: string): { mapId: number; key: number } | undefined {
  const match = TC_SLOT.exec(section);
  if (!match) return undefined;
  return { mapId: scanfInt(match[1]!), key: scanfInt(match[2]!) };
}

function scanfInt(text: string): number {
  const negative = text.startsWith('-');
  const digits = text.replace(/^[+-]/, '');
  const magnitude = /^0[xX]/.test(digits) ? BigInt(digits) : digits.length > 1 && digits.startsWith('0') ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  return Number(BigInt.asUintN(32, negative ? -magnitude : magnitude));
}

function tcFields(map: MapSpec): { id: number; pinning: number; innerId: number; innerIdx: number } | undefined {
  return map.source.kind === 'maps' ? map.source.raw.tc : undefined;
}

/** The maps whose struct bpf_elf_map.id is `id`. */
export function mapsWithTcId(maps: readonly MapSpec[], id: number): MapSpec[] {
  return maps.filter((m) => tcFields(m)?.id === id);
}

/**
 * tc names maps by `id`: an outer map's template is the map whose id is its
 * inner_id; a map with an id, no inner_id and an inner_idx goes into every
 * outer map naming that id, at that index; `<id>/<key>` programs go into the
 * PROG_ARRAY with that id. Written into the specs as names. A reference that
 * names no map (or more than one) stays unresolved; validation explains it.
 */
export function resolveTcReferences(maps: readonly MapSpec[], programs: readonly ProgramSpec[]): void {
  for (const map of maps) {
    const tc = tcFields(map);
    if (!tc || !isMapInMapType(map.type) || tc.innerId === 0) continue;
    const templates = mapsWithTcId(maps, tc.innerId).filter((m) => m !== map);
    if (templates.length === 1) map.innerMap = templates[0]!.name;
  }
  for (const inner of maps) {
    const tc = tcFields(inner);
    if (!tc || tc.id === 0 || tc.innerId !== 0 || tc.innerIdx === NO_INNER_IDX) continue;
    for (const outer of maps) {
      if (outer === inner || !isMapInMapType(outer.type) || tcFields(outer)?.innerId !== tc.id) continue;
      (outer.contents ??= []).push({ slot: tc.innerIdx, map: inner.name });
    }
  }
  for (const program of programs) {
    const id = program.tailCall?.tcMapId;
    if (id === undefined) continue;
    const named = mapsWithTcId(maps, id);
    if (named.length === 1) program.tailCall!.map = named[0]!.name;
  }
}

/** Why a tc map-in-map has no template, in tc's terms. */
export function explainMissingTemplate(maps: readonly MapSpec[], map: MapSpec): { message: string; hint?: string } | undefined {
  const tc = tcFields(map);
  if (!tc) return undefined;
  if (tc.innerId === 0) {
    return { message: 'a map-in-map needs inner_id, the id of its inner-map template, and it is 0', hint: 'set .inner_id to the .id of the map to use as template' };
  }
  const candidates = mapsWithTcId(maps, tc.innerId).filter((m) => m !== map);
  if (candidates.length === 0) return { message: `no map has id ${tc.innerId}, the inner_id of this map-in-map` };
  return {
    message: `maps ${candidates.map((m) => `'${m.name}'`).join(' and ')} all have id ${tc.innerId}: the inner-map template is ambiguous`,
  };
}

/** Why a tc `<id>/<key>` program names no PROG_ARRAY. */
export function explainMissingProgArray(maps: readonly MapSpec[], program: ProgramSpec): { message: string; hint?: string } | undefined {
  const tailCall = program.tailCall;
  if (tailCall?.tcMapId === undefined) return undefined;
  const named = mapsWithTcId(maps, tailCall.tcMapId);
  if (named.length > 1) {
    return { message: `section name makes it slot ${tailCall.slot} of the map with id ${tailCall.tcMapId}, which ${named.length} maps have` };
  }
  const ids = maps.filter((m) => tcFields(m)?.id).map((m) => `${m.name}=${tcFields(m)!.id}`);
  return {
    message: `section name makes it slot ${tailCall.slot} of the map with id ${tailCall.tcMapId}, but no map has that id`,
    hint: `ids of this object's maps: ${ids.join(', ') || 'none'}`,
  };
}

/**
 * A 36-byte definition is iproute2's struct bpf_elf_map: no samples/bpf
 * struct was ever that size. Read as bpf_load_map_def, its id would be taken
 * for inner_map_idx and its pinning for numa_node (and dropped): when any of
 * those tc fields is set, the object needs the tc convention.
 */
export function tcFieldsSet(view: DataView, base: number, defSize: number): boolean {
  if (defSize !== TC_DEF_SIZE) return false;
  // zero or not reads the same in either byte order
  for (let at = 20; at < TC_DEF_SIZE; at += 4) if (view.getUint32(base + at) !== 0) return true;
  return false;
}

export const TC_DEF_SIZE = 36;

