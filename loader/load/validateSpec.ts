import {
  explainMissingProgArray, explainMissingTemplate, mapOrder, type MapSpec, type ObjectSpec, type ProgramSpec,
} from '../../elf/index.js';
import { BPF_F_NUMA_NODE, BPF_MAP_TYPE, BPF_PROG_TYPE, isMapInMapType, mapTypeName } from '../../syscall/index.js';
import { LoadError, type LoadErrorContext } from '../errors.js';
import { checkObjectSpec } from './selectPrograms.js';

const U32_MAX = 0xffffffff;
const MAX_MAP_TYPE = Math.max(...Object.values(BPF_MAP_TYPE));
const MAX_PROG_TYPE = Math.max(...Object.values(BPF_PROG_TYPE));

/**
 * Everything a spec says, checked before any system call: the one place a
 * spec, parsed or edited, is judged. Numbers must fit the kernel's fields,
 * types must be known, and every reference (a program's maps, a map-in-map's
 * template, a tail call's PROG_ARRAY, an inner map to insert) must name a map
 * of the spec. Each refusal names the map and, for a reference, the program
 * or map that makes it. `programs`: the programs to be loaded (all by default).
 */
export function validateSpec(spec: ObjectSpec, programs?: readonly ProgramSpec[], order?: readonly MapSpec[]): void {
  checkObjectSpec(spec, 'validateSpec');
  validateCheckedSpec(spec, programs, order);
}

/** validateSpec() of a spec checkObjectSpec() has passed: what the load's entry points call, having checked it. */
export function validateCheckedSpec(spec: ObjectSpec, programs?: readonly ProgramSpec[], order?: readonly MapSpec[]): void {
  const file = spec.file;
  // the map_fd[] order, for messages only: worked out (if not given) once each map is known to be a map
  let maps = order;
  const ordered = (): readonly MapSpec[] => (maps ??= mapOrder(spec));
  const indexOf = (name: string): number => ordered().findLastIndex((m) => m.name === name);
  const mapContext = (map: MapSpec): LoadErrorContext => ({ file, section: sectionOf(map), map: { index: indexOf(map.name), name: map.name } });
  const refuse = (message: string, context: Where, hint?: string): never => {
    throw new LoadError(message, typeof context === 'function' ? context() : context, { code: 'BPF_LOAD_ARGUMENT', ...(hint === undefined ? {} : { hint }) });
  };
  const known = (name: string): string => `'${name}' is no map of this spec (maps: ${Object.keys(spec.maps).join(', ') || 'none'})`;

  for (const key of Object.keys(spec.maps)) {
    const map = spec.maps[key]!;
    if (typeof map !== 'object' || map === null) refuse(`spec.maps['${key}'] is ${map === null ? 'null' : typeof map}, not a MapSpec`, { file });
    if (map.name !== key) refuse(`spec.maps['${key}'] is named '${String(map.name)}': a map's name is its key`, { file });
    const context = (): LoadErrorContext => mapContext(map);
    checkU32(map.type, 'type', context, refuse);
    checkU32(map.keySize, 'keySize', context, refuse);
    checkU32(map.valueSize, 'valueSize', context, refuse);
    checkU32(map.maxEntries, 'maxEntries', context, refuse);
    checkU32(map.flags, 'flags', context, refuse);
    if (map.numaNode !== undefined) {
      checkU32(map.numaNode, 'numaNode', context, refuse);
      if (!(map.flags & BPF_F_NUMA_NODE)) refuse(`numaNode ${map.numaNode} needs BPF_F_NUMA_NODE (0x4) in flags`, context);
    }
    if (map.type === 0 || map.type > MAX_MAP_TYPE) {
      refuse(`map type ${map.type} is ${map.type === 0 ? 'BPF_MAP_TYPE_UNSPEC: the definition is empty or was zeroed' : 'not a map type bpf-load knows'}`, context);
    }
    checkPinning(map, context, refuse);
    for (const content of map.programContents ?? []) {
      if (map.type !== BPF_MAP_TYPE.PROG_ARRAY) refuse(`programContents put program '${content.program}' in a ${mapTypeName(map.type)} map, which holds no programs`, context);
      checkU32(content.slot, 'programContents slot', context, refuse);
      if (!Object.hasOwn(spec.programs, content.program)) refuse(`programContents slot ${content.slot}: no program named '${content.program}'`, context);
    }
    if (isMapInMapType(map.type) && map.innerTemplate !== undefined && map.innerMap === undefined) {
      // the template is given inline (a BTF map's __array(values, …))
    } else if (isMapInMapType(map.type)) {
      if (map.innerMap === undefined) {
        const tc = explainMissingTemplate(ordered(), map);
        if (tc) refuse(tc.message, context, tc.hint);
        const raw = map.source.kind === 'maps' ? map.source.raw.innerMapIdx : undefined;
        refuse(
          raw === indexOf(map.name)
            ? `map-in-map names itself (inner_map_idx ${raw}) as its inner-map template`
            : `map-in-map has no inner-map template${raw === undefined ? '' : ` (inner_map_idx ${raw} is not a map of this object, which has ${ordered().length})`}`,
          context,
          'set innerMap to the name of the map whose shape its inner maps have',
        );
      }
      const inner = map.innerMap!;
      if (inner === map.name) refuse('map-in-map names itself as its inner-map template (innerMap)', context);
      if (!Object.hasOwn(spec.maps, inner)) refuse(`inner-map template ${known(inner)}`, context);
      checkTemplateCycle(spec, map, context, refuse);
    } else if (map.innerMap !== undefined && !Object.hasOwn(spec.maps, map.innerMap)) {
      refuse(`innerMap ${known(map.innerMap)}`, context);
    }
    for (const content of map.contents ?? []) {
      if (!isMapInMapType(map.type)) refuse(`contents insert map '${content.map}', but a ${mapTypeName(map.type)} map holds no maps`, context);
      checkU32(content.slot, 'contents slot', context, refuse);
      if (!Object.hasOwn(spec.maps, content.map)) refuse(`contents slot ${content.slot}: ${known(content.map)}`, context);
    }
  }

  const selected = new Set(programs ?? Object.values(spec.programs));
  for (const key of Object.keys(spec.programs)) {
    const program = spec.programs[key]!;
    if (program.name !== key) refuse(`spec.programs['${key}'] is named '${String(program.name)}': a program's name is its key`, { file });
    if (!selected.has(program)) continue;
    const context = (): LoadErrorContext => ({ file, section: program.section, program: program.name });
    if (!(program.insns instanceof Uint8Array) || program.insns.byteLength === 0 || program.insns.byteLength % 8 !== 0) {
      refuse('insns must be a non-empty Uint8Array of 8-byte instructions', context);
    }
    checkU32(program.type, 'type', context, refuse);
    if (program.type > MAX_PROG_TYPE) refuse(`program type ${program.type} is not a program type bpf-load knows`, context);
    // one map is referred to by many instructions in a row: each name is looked up once
    let present: string | undefined;
    for (const relocation of program.relocations) {
      if (relocation.kind !== 'map' || relocation.map === present) continue;
      if (Object.hasOwn(spec.maps, relocation.map)) {
        present = relocation.map;
        continue;
      }
      refuse(
        `insn ${relocation.sourceInsn} refers to map '${relocation.map}', which is no map of this spec ` +
          `(maps: ${Object.keys(spec.maps).join(', ') || 'none'})`,
        context,
        'put the map back, or replace it with an open map (maps: { replace })',
      );
    }
    const tailCall = program.tailCall;
    if (tailCall === undefined) continue;
    if (tailCall.map === undefined) {
      const tc = explainMissingProgArray(ordered(), program);
      if (tc) refuse(tc.message, context, tc.hint);
      refuse(`section name makes it tail-call slot ${tailCall.slot}, but the object has no PROG_ARRAY map to put it in`, context);
    }
    const progArray = spec.maps[tailCall.map!];
    if (!progArray) refuse(`tail call: ${known(tailCall.map!)}`, context);
    const where = (): LoadErrorContext => ({ ...context(), map: { index: indexOf(progArray!.name), name: progArray!.name } });
    const by = (): string => (tailCall.tcMapId === undefined ? `map '${progArray!.name}'` : `map id ${tailCall.tcMapId}`);
    if (progArray!.type !== BPF_MAP_TYPE.PROG_ARRAY) {
      refuse(`section name makes it slot ${tailCall.slot} of ${by()}, which is a ${mapTypeName(progArray!.type)}, not a PROG_ARRAY`, where);
    }
    if (tailCall.slot >= progArray!.maxEntries) {
      refuse(`section name makes it slot ${tailCall.slot} of ${by()}, which has ${progArray!.maxEntries} slots`, where);
    }
  }
}

/** What a refusal names, or how to make it: made only for a refusal, so a spec that passes (nearly every one) builds none. */
type Where = LoadErrorContext | (() => LoadErrorContext);

function sectionOf(map: MapSpec): string | undefined {
  return map.source?.kind === 'maps' ? map.source.section : undefined;
}

function checkU32(value: unknown, field: string, context: Where, refuse: (m: string, c: Where) => never): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > U32_MAX) {
    refuse(`${field} is ${typeof value === 'number' ? value : typeof value}, not an unsigned 32-bit integer`, context);
  }
}

function checkPinning(map: MapSpec, context: Where, refuse: (m: string, c: Where) => never): void {
  const pinning: unknown = map.pinning;
  if (pinning === 'none' || pinning === 'object' || pinning === 'global' || pinning === 'byName') return;
  if (typeof pinning === 'object' && pinning !== null) {
    const custom = (pinning as { custom?: unknown }).custom;
    if (typeof custom === 'number' && Number.isInteger(custom) && custom > 2 && custom <= U32_MAX) return;
  }
  refuse(`pinning ${JSON.stringify(pinning)} is not 'none', 'object', 'global', 'byName' or { custom: id > 2 }`, context);
}

/** The template chain of a map-in-map (an outer map whose template is itself an outer map…) must end. */
function checkTemplateCycle(spec: ObjectSpec, map: MapSpec, context: Where, refuse: (m: string, c: Where) => never): void {
  const chain = [map.name];
  for (let next = spec.maps[map.innerMap!]; next && isMapInMapType(next.type) && next.innerMap !== undefined; next = spec.maps[next.innerMap]) {
    if (chain.includes(next.name)) {
      refuse(`map-in-map inner-map templates form a cycle: ${[...chain.slice(chain.indexOf(next.name)), next.name].map((n) => `'${n}'`).join(' -> ')}`, context);
    }
    chain.push(next.name);
  }
}
