import { marshalBtf, sanitizeBtfTypes, type ObjectSpec, type ProgramSpec } from '../../elf/index.js';
import { skipModsAndTypedefs, type Btf } from '../../elf/btf/index.js';
import { BPF_MAP_TYPE, BpfFd, SyscallError, btfLoad, errnoName, haveFeature, mapTypeName } from '../../syscall/index.js';
import { LoadError } from '../errors.js';
import { localBtfOf } from './coreStep.js';

/** First BTF log buffer, grown on ENOSPC; libbpf's default log is 16 MiB at most. */
const BTF_LOG_START = 64 * 1024;
const BTF_LOG_MAX = 16 * 1024 * 1024;

/**
 * BPF_BTF_LOAD of the object's BTF, every kind the running kernel lacks replaced (found by
 * probes) and DATASECs fixed up at parse time. A kernel without BTF, or one that refuses
 * this BTF, gets none: the object loads without it, as libbpf does, with a warning that
 * carries the end of the kernel's log — unless something in it cannot work without BTF in
 * the kernel (btfRequirements), where libbpf fails at that map or program: then a LoadError
 * saying what needs it. undefined when the object has no BTF.
 */
export function loadObjectBtf(
  spec: ObjectSpec, onWarning: ((message: string) => void) | undefined, programs: readonly ProgramSpec[] = Object.values(spec.programs),
): BpfFd | undefined {
  if (!spec.btf) return undefined;
  if (!haveFeature('btf')) {
    onWarning?.(`${spec.file}: this kernel has no BTF: maps and programs are loaded without it (no source lines in verifier logs)`);
    return undefined;
  }
  const types = sanitizeBtfTypes(spec.btf.types, {
    datasec: haveFeature('btfDatasec'), func: haveFeature('btfFunc'), funcGlobal: haveFeature('btfFunc'),
    float: haveFeature('btfFloat'), declTag: haveFeature('btfDeclTag'), typeTag: haveFeature('btfTypeTag'), enum64: haveFeature('btfEnum64'),
  });
  const bytes = marshalBtf(types, { strings: spec.btf.strings, littleEndian: spec.byteOrder === 'little' });
  try {
    return btfLoad({ btf: bytes });
  } catch (first) {
    if (!(first instanceof SyscallError)) throw first;
    const log = btfLog(bytes);
    const needs = btfRequirements(spec, programs);
    if (needs.length > 0) {
      const last = log.trimEnd().split('\n').pop()?.trim();
      throw new LoadError(
        `the kernel refused the object's BTF, and the object cannot load without it: ${needs.join('; ')}`,
        { file: spec.file, section: '.BTF' },
        { cause: first, hint: last ? `the kernel's BTF log ends: ${last}` : 'the kernel gave no BTF log' },
      );
    }
    onWarning?.(
      `${spec.file}: the kernel refused the object's BTF (${errnoName(first.errno)}): maps and programs are loaded without it ` +
        `(no BTF key/value types, no source lines in verifier logs)${logTail(log)}`,
    );
    return undefined;
  }
}

/** The kernel's BTF log of a refused load, asked for again with a log (grown on ENOSPC); '' when it gives none. */
function btfLog(bytes: Uint8Array): string {
  for (let size = BTF_LOG_START; size <= BTF_LOG_MAX; size *= 4) {
    const logBuffer = Buffer.alloc(size);
    try {
      btfLoad({ btf: bytes, log_buf: logBuffer, log_level: 1 }).close();
    } catch (error) {
      const end = logBuffer.indexOf(0);
      const log = logBuffer.subarray(0, end < 0 ? size : end).toString('utf8');
      if (error instanceof SyscallError && error.errno === 28 /* ENOSPC */) continue;
      return log;
    }
    return '';
  }
  return '';
}

/** Lines of the kernel's BTF log kept: it lists every type it checked, and the last says why it stopped. */
const LOG_TAIL_LINES = 3;

function logTail(log: string): string {
  const lines = log.trimEnd().split('\n').filter((line) => line.trim() !== '');
  if (lines.length === 0) return '';
  const tail = lines.slice(-LOG_TAIL_LINES);
  return `\nthe kernel's BTF log${lines.length > tail.length ? ` (its last ${tail.length} of ${lines.length} lines)` : ''}:\n${tail.join('\n')}`;
}

/** Local-storage maps: the kernel creates them only with BTF key and value types. */
const NEEDS_BTF_MAP_TYPES = new Set<number>([
  BPF_MAP_TYPE.SK_STORAGE, BPF_MAP_TYPE.INODE_STORAGE, BPF_MAP_TYPE.TASK_STORAGE, BPF_MAP_TYPE.CGRP_STORAGE,
]);

/** Structs in a map value that the verifier finds only through the map's BTF (bpf_spin_lock, timers, graph roots…). */
const SPECIAL_STRUCTS = new Set(['bpf_spin_lock', 'bpf_res_spin_lock', 'bpf_timer', 'bpf_wq', 'bpf_list_head', 'bpf_rb_root', 'bpf_refcount']);

/** Type tags that make a pointer in a map value a kptr, which the verifier knows only through BTF. */
const KPTR_TAGS = new Set(['kptr', 'kptr_untrusted', 'kptr_ref', 'percpu_kptr']);

/**
 * What in the object cannot work without its BTF in the kernel, one phrase each: a
 * local-storage map, a map value holding a bpf_spin_lock, timer or kptr, a program that
 * passes a callback by address (the verifier asks for func_info: "missing btf func_info").
 * Empty when the object loads without BTF as well (only typed maps and source lines are lost).
 */
export function btfRequirements(spec: ObjectSpec, programs: readonly ProgramSpec[]): string[] {
  const needs: string[] = [];
  let btf: Btf | undefined;
  for (const map of Object.values(spec.maps)) {
    if (NEEDS_BTF_MAP_TYPES.has(map.type)) {
      needs.push(`map '${map.name}' is a ${mapTypeName(map.type)}, which the kernel creates only with BTF key and value types`);
      continue;
    }
    if (!map.btf || map.btf.valueTypeId === 0 || !spec.btf) continue;
    btf ??= localBtfOf(spec);
    const special = specialField(btf, map.btf.valueTypeId, 0);
    if (special) needs.push(`map '${map.name}' has a ${special} in its value, which the verifier knows only through BTF`);
  }
  for (const program of programs) {
    const callback = program.relocations.find((relocation) => relocation.kind === 'func');
    if (callback?.kind === 'func') {
      needs.push(`program '${program.name}' passes '${callback.target}' by address (a callback), which the verifier accepts only with BTF func_info`);
    }
  }
  return needs;
}

/** The first field of type `id` the verifier reads from BTF (`struct bpf_spin_lock`, `kptr pointer`), or undefined. */
function specialField(btf: Btf, id: number, depth: number): string | undefined {
  if (depth > 32) return undefined;
  const type = btf.type(skipModsAndTypedefs(btf, id));
  switch (type.kind) {
    case 'STRUCT':
    case 'UNION':
      if (SPECIAL_STRUCTS.has(type.name)) return `struct ${type.name}`;
      for (const member of type.members) {
        const found = specialField(btf, member.type, depth + 1);
        if (found) return found;
      }
      return undefined;
    case 'ARRAY':
      return specialField(btf, type.type, depth + 1);
    case 'PTR': {
      // a kptr: PTR -> TYPE_TAG "kptr" -> the struct
      const target = btf.type(type.type);
      return target.kind === 'TYPE_TAG' && KPTR_TAGS.has(target.name) ? `${target.name} pointer` : undefined;
    }
    default:
      return undefined;
  }
}
