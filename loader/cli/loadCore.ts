import type { CoreRelocationReport } from '../../elf/btf/index.js';
import type { Formatted } from '../maps/btfFormat.js';
import { renderTable } from './mapTable.js';

// --core: what CO-RE did to each program (or, with --dry-run, would do), as a table per program
// or a `core` array in each program of the JSON.

/** One relocation in --json: the report's fields in the JSON's snake_case; 64-bit values as exact numbers. */
export function coreJson(reports: readonly CoreRelocationReport[]): Formatted[] {
  return reports.map((r) => ({
    insn: r.insn,
    function: r.function,
    function_insn: r.functionInsn,
    kind: r.kind,
    local_type: { id: r.localType.id, kind: r.localType.kind, name: r.localType.name },
    access_string: r.accessString,
    local_spec: r.localSpec,
    // null, not absent: the shape of a relocation is the same whether or not a target matched
    target: (r.target ? { id: r.target.id, kind: r.target.kind, name: r.target.name, btf: r.target.btf, spec: r.target.spec } : null) as Formatted,
    old: r.oldValue,
    new: (r.newValue ?? null) as Formatted,
    ...(r.memSize ? { mem_size: { old: r.memSize.old, new: r.memSize.new } } : {}),
    poisoned: r.poisoned,
    description: [...r.description],
  }));
}

/** `[29] struct task_struct.real_parent (0:3 @ offset 16)` → `struct task_struct.real_parent`: the id and the raw path are columns of their own. */
function accessPath(spec: string): string {
  return spec.replace(/^\[\d+\] /, '').replace(/ \([^()]*\)$/, '');
}

function typeText(type: { kind: string; name: string }): string {
  return `${type.kind} ${type.name || '<anon>'}`;
}

function change(r: CoreRelocationReport): string {
  if (r.poisoned) return `${r.oldValue} -> poisoned`;
  const value = `${r.oldValue} -> ${r.newValue}`;
  return r.memSize ? `${value}, size ${r.memSize.old} -> ${r.memSize.new}` : value;
}

/**
 * The relocations of one program: instruction, kind, local type and access (its members by name,
 * then the access string), the kernel type matched (in which BTF, its id) and the value's change.
 * A relocation of a `.text` function the program calls names it beside the instruction.
 */
export function renderCoreTable(program: string, reports: readonly CoreRelocationReport[]): string {
  if (reports.length === 0) return `CO-RE relocations of ${program}: none`;
  const rows = reports.map((r) => [
    r.insn,
    r.function === program ? '' : `${r.function}+${r.functionInsn}`,
    r.kind,
    `${accessPath(r.localSpec)} [${r.localType.id}]`,
    r.accessString,
    r.target ? `${r.target.btf} ${typeText(r.target)} [${r.target.id}]` : '-',
    change(r),
  ]);
  const headers = ['insn', 'in', 'kind', 'local', 'access', 'target', 'old -> new'];
  // the `in` column only when some relocation is in a called function
  const keep = headers.map((_h, c) => c !== 1 || rows.some((row) => row[1] !== ''));
  const pick = <T>(cells: T[]): T[] => cells.filter((_cell, c) => keep[c]);
  const poisoned = reports.filter((r) => r.poisoned).length;
  const title = `CO-RE relocations of ${program} (${reports.length}${poisoned ? `, ${poisoned} poisoned` : ''}):`;
  return `${title}\n${renderTable(pick(headers), rows.map(pick))}`;
}
