// CO-RE, what was done: one calculated and patched relocation as plain data, in libbpf's names
// and words, for a caller to list (the API's program.coreRelocations, the CLI's --core). Built
// only when asked for: a load keeps the calculator's results and formats them on first read.

import { BPF_CORE_TYPE_ID_LOCAL } from '../../uapi/btf.js';
import type { Btf } from './btf.js';
import { CORE_RELO_KIND_NAMES, formatCoreAccess, type CoreRelocationResult } from './core.js';
import type { CorePatch } from './corePatch.js';
import type { CoreRelo } from './ext.js';

/** libbpf's names of the relocation kinds (`enum bpf_core_relo_kind`), as its debug log prints them. */
export type CoreRelocationKind =
  | 'byte_off' | 'byte_sz' | 'field_exists' | 'signed' | 'lshift_u64' | 'rshift_u64' | 'local_type_id' | 'target_type_id'
  | 'type_exists' | 'type_size' | 'enumval_exists' | 'enumval_value' | 'type_matches';

/** A BTF type named in a report. */
export interface CoreTypeRef {
  id: number;
  /** lower case, as libbpf prints it: `struct`, `union`, `enum`, `typedef`, `int`… */
  kind: string;
  /** '' for an anonymous type */
  name: string;
}

/** What CO-RE did with one relocation record of a program. */
export interface CoreRelocationReport {
  /** the instruction's index in the program as loaded: its own instructions, then the `.text` functions appended */
  insn: number;
  /**
   * the function the record is in, as libbpf names programs in its log: the program itself, or the
   * `.text` function (subprogram) it calls
   */
  function: string;
  /** the instruction's index from that function's first one, as libbpf's log counts it */
  functionInsn: number;
  kind: CoreRelocationKind;
  /** the type the access starts from, in the object's BTF */
  localType: CoreTypeRef;
  /** clang's access string: member and element indices ("0:57"), "0" for a type, an enumerator's index */
  accessString: string;
  /** the access resolved in the object's BTF, as libbpf's log prints a spec: `[2] struct task_struct.real_parent (0:57 @ offset 16)` */
  localSpec: string;
  /**
   * the type of the kernel's BTF that was matched, and in which BTF ('vmlinux' or a module's name);
   * undefined when none matched (the relocation gave 0 or was poisoned) and for local_type_id, which
   * looks at no target
   */
  target: (CoreTypeRef & { btf: string; spec: string }) | undefined;
  /** the value the instruction held (clang's, from the object's types) */
  oldValue: bigint;
  /** the value it holds now; undefined when poisoned */
  newValue: bigint | undefined;
  /** a load/store whose size changed with the field's: the sizes in bytes */
  memSize?: { old: number; new: number };
  /** the instruction was replaced by a call to an invalid helper: this kernel lacks the field or type */
  poisoned: boolean;
  /** what was done, in the words of libbpf's debug log (`patched insn #3 (LDX/ST/STX) off 16 -> 1440`) */
  description: readonly string[];
}

/** One relocation as the load calculated and applied it, kept until a report is asked for. */
export interface CoreOutcome {
  relo: CoreRelo;
  result: CoreRelocationResult;
  patch: CorePatch;
  /** the BTF the candidates were searched in ('vmlinux' or a module's name) and every candidate's id */
  targetBtf: string;
  candidates: readonly number[];
}

/** A `.text` function appended to a program, where its instructions start. */
interface Subprogram {
  name: string;
  insn: number;
  count: number;
}

function typeRef(btf: Btf, id: number): CoreTypeRef {
  const type = btf.type(id);
  return { id, kind: type.kind.toLowerCase(), name: type.name };
}

/**
 * The report of each outcome of one program (`program`, with `subprograms` appended), in
 * instruction order. `local` is the object's BTF.
 */
export function coreReports(
  local: Btf, program: string, subprograms: readonly Subprogram[], outcomes: readonly CoreOutcome[],
): CoreRelocationReport[] {
  return outcomes.map(({ relo, result, patch, targetBtf, candidates }) => {
    const insn = relo.insnOff;
    const sub = subprograms.find((s) => insn >= s.insn && insn < s.insn + s.count);
    const kind = (CORE_RELO_KIND_NAMES[relo.kind] ?? `kind ${relo.kind}`) as CoreRelocationKind;
    const localSpec = formatCoreAccess(result.localSpec, relo.kind);
    const targetSpec = relo.kind === BPF_CORE_TYPE_ID_LOCAL ? undefined : result.targetSpec;
    const target = targetSpec === undefined ? undefined : {
      ...typeRef(targetSpec.btf, targetSpec.rootTypeId), btf: targetBtf, spec: formatCoreAccess(targetSpec, relo.kind),
    };
    const description = [`<${kind}> ${localSpec}`];
    if (relo.kind !== BPF_CORE_TYPE_ID_LOCAL) {
      if (target) description.push(`matching candidate #${Math.max(candidates.indexOf(target.id), 0)} <${kind}> ${target.spec}`);
      else description.push('no matching targets found');
    }
    description.push(...patch.description);
    return {
      insn,
      function: sub?.name ?? program,
      functionInsn: sub ? insn - sub.insn : insn,
      kind,
      localType: typeRef(local, relo.typeId),
      accessString: relo.accessString,
      localSpec,
      target,
      oldValue: patch.from ?? result.localValue,
      newValue: patch.poisoned ? undefined : patch.to ?? result.targetValue,
      ...(patch.memSize && { memSize: { old: patch.memSize.from, new: patch.memSize.to } }),
      poisoned: patch.poisoned,
      description,
    };
  });
}
