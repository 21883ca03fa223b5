import type { MapSpec, ObjectSpec } from '../../elf/index.js';
import { BPF_ANY, BPF_MAP_TYPE, SyscallError, progArraySet } from '../../syscall/index.js';
import type { BpfMap } from '../maps/bpfMap.js';
import type { BpfProgram } from '../programs/bpfProgram.js';
import type { Cleanup } from '../cleanup.js';
import { LoadError, type LoadErrorContext } from '../errors.js';

/**
 * Tail-call slots, once every program is loaded (tc's bpf_fill_prog_arrays,
 * bpf_load.c's `socket/N`): each loaded program with a tailCall goes into its
 * PROG_ARRAY. A pinned PROG_ARRAY the load reused has its slots overwritten:
 * that is how tc grafts.
 */
export function fillTailCalls(
  spec: ObjectSpec,
  maps: ReadonlyMap<string, BpfMap>,
  specs: readonly { tailCall?: { map: string | undefined; slot: number } | undefined }[],
  loaded: readonly BpfProgram[],
): void {
  for (let i = 0; i < specs.length; i++) {
    const tailCall = specs[i]!.tailCall;
    if (!tailCall) continue;
    const live = loaded[i]!;
    const context = { file: spec.file, section: live.section, program: live.name };
    // validateSpec made sure the map exists and is a PROG_ARRAY wide enough
    const progArray = maps.get(tailCall.map!)!;
    try {
      progArraySet(progArray.fd, tailCall.slot, live.fd);
    } catch (cause) {
      throw new LoadError(
        `cannot put the program in slot ${tailCall.slot} of PROG_ARRAY map '${progArray.name}' (max_entries ${progArray.def.max_entries})`,
        context,
        { cause },
      );
    }
  }
}

/**
 * The inner maps a map-in-map's `contents` name, inserted at their slots.
 * Returns the inner maps a reused (shared) outer map held before, kept open
 * so a failed load can put them back (the slot was their last reference):
 * close them once the load succeeded.
 */
export function fillMapContents(
  specs: readonly MapSpec[],
  maps: ReadonlyMap<string, BpfMap>,
  reused: ReadonlySet<string>,
  contextOf: (map: MapSpec) => LoadErrorContext,
  cleanup: Cleanup,
): BpfMap[] {
  const displaced: BpfMap[] = [];
  let written: Set<BpfMap> | undefined;
  for (const outer of specs) {
    if (!outer.contents) continue;
    for (const { slot, map: innerName } of outer.contents) {
      const outerMap = maps.get(outer.name)!;
      const innerMap = maps.get(innerName)!;
      const context = contextOf(outer);
      written ??= new Set();
      if (!written.has(outerMap)) {
        // element operations allocate scratch memory that only BpfMap.close() frees (the loader's
        // own cleanup closes just the fd); registered first, so it runs after restoreSlot below
        written.add(outerMap);
        cleanup.add(() => outerMap.close());
      }
      if (outerMap.def.key_size !== 4) {
        throw new LoadError(
          `cannot insert map '${innerName}' at inner_idx ${slot}: the outer map's key_size is ${outerMap.def.key_size}, tc's index is a 4-byte key`,
          context,
        );
      }
      // a shared (reused) outer map gets its slot back if this load fails
      if (reused.has(outer.name)) {
        const previous = outerMap.openInner(slot);
        if (previous) displaced.push(previous);
        cleanup.add(restoreSlot(outerMap, slot, previous));
      }
      try {
        outerMap.setInner(slot, innerMap, BPF_ANY);
      } catch (cause) {
        const max = outerMap.def.max_entries;
        const hint = outerMap.def.type === BPF_MAP_TYPE.ARRAY_OF_MAPS && slot >= max
          ? `the outer map has ${max} elements, index ${slot} is out of range`
          : "the inner map does not match the outer map's template (type, key/value size, flags)";
        // the kernel's refusal itself, so the errno reaches the LoadError (and the CLI's exit status)
        const syscallError = cause instanceof Error && cause.cause instanceof SyscallError ? cause.cause : cause;
        throw new LoadError(`cannot insert map '${innerName}' into map-in-map at inner_idx ${slot}`, context, {
          cause: syscallError,
          hint,
        });
      }
    }
  }
  return displaced;
}

/** Put back the inner map a slot held before, or empty the slot. */
function restoreSlot(outer: BpfMap, slot: number, previous: BpfMap | undefined): () => void {
  return () => {
    if (!previous) {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(slot);
      outer.delete(key);
      return;
    }
    try {
      outer.setInner(slot, previous, BPF_ANY);
    } finally {
      previous.close();
    }
  };
}
