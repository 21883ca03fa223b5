import type { MapSpec, ObjectSpec } from '../../elf/index.js';
import { BpfFd, mapFreeze, mapUpdateBytes, progArraySet, progBindMap } from '../../syscall/index.js';
import { LoadError, type LoadErrorContext } from '../errors.js';
import type { BpfMap } from '../maps/bpfMap.js';
import type { BpfProgram } from '../programs/bpfProgram.js';

/**
 * A global-data map's entry 0: the section's bytes with the variables as set; `.rodata` is then
 * frozen, so neither programs nor user space can change it (libbpf's populate_internal_map).
 */
export function writeInitialValue(spec: MapSpec, created: BpfFd, context: LoadErrorContext): void {
  const value = spec.initialValue!;
  if (value.byteLength !== spec.valueSize) {
    throw new LoadError(`initial value is ${value.byteLength} bytes, the map's value_size ${spec.valueSize}`, context, { code: 'BPF_LOAD_ARGUMENT' });
  }
  try {
    mapUpdateBytes(created.fd, new Uint8Array(4), value);
    if (spec.freeze) mapFreeze(created.fd);
  } catch (cause) {
    created.close();
    throw new LoadError(`cannot ${spec.freeze ? 'write and freeze' : 'write'} the initial contents of map '${spec.name}'`, context, { cause });
  }
}

/** A PROG_ARRAY's `.values = { [slot] = &prog }`, once its programs are loaded. */
export function fillProgramContents(
  spec: ObjectSpec,
  order: readonly MapSpec[],
  maps: ReadonlyMap<string, BpfMap>,
  specs: readonly { name: string }[],
  programs: readonly BpfProgram[],
): void {
  for (const map of order) {
    if (!map.programContents) continue;
    for (const { slot, program: name } of map.programContents) {
      const found = specs.findIndex((p) => p.name === name);
      const program = found < 0 ? undefined : programs[found];
      // a program not selected for this load leaves its slot empty
      if (!program) continue;
      const live = maps.get(map.name)!;
      try {
        progArraySet(live.fd, slot, program.fd);
      } catch (cause) {
        throw new LoadError(`cannot put program '${name}' in slot ${slot} of PROG_ARRAY map '${map.name}'`, { file: spec.file, map: { index: live.index, name: map.name } }, { cause });
      }
    }
  }
}

/**
 * libbpf 1.1 binds the object's read-only data maps (`.rodata`, `.rodata.*`) to every program it
 * loads, used or not, so the metadata in it stays with the programs (bpftool prog show's metadata).
 */
export function bindRodata(order: readonly MapSpec[], maps: ReadonlyMap<string, BpfMap>, programs: readonly BpfProgram[]): void {
  for (const rodata of order) {
    if (rodata.source.kind !== 'data' || !rodata.source.section.startsWith('.rodata')) continue;
    const map = maps.get(rodata.name)!;
    for (const program of programs) {
      try {
        progBindMap(program.fd, map.fd);
      } catch {
        // kernels before 5.10 have no BPF_PROG_BIND_MAP: libbpf goes on without it too
        return;
      }
    }
  }
}
