import type { CoreRelocationReport } from '../../loader/index.js';
import { actedOn, type CoreLog, type CoreRelocation } from './libbpfOracle.js';

/**
 * What a CO-RE report says, reduced to what libbpf's debug log says of the same relocation, so the
 * two compare as text: the kind, the local spec, the candidate that matched (or none), the old and
 * new value or the poison, and the patch line itself (libbpf counts instructions from the
 * function's first; the report's lines from the loaded program's: the index is put back).
 */
function reportView(r: Pick<CoreRelocationReport, 'kind' | 'localSpec' | 'target' | 'poisoned' | 'oldValue' | 'newValue' | 'memSize' | 'description' | 'insn' | 'functionInsn'>): string[] {
  const last = r.description.at(-1) ?? '';
  const patch = last.replace(`insn #${r.insn} `, `insn #${r.functionInsn} `).replace(`insn #${r.insn + 1} `, `insn #${r.functionInsn + 1} `);
  const value = r.poisoned ? 'poisoned' : r.memSize ? `mem_sz ${r.memSize.old} -> ${r.memSize.new}` : `${r.oldValue} -> ${r.newValue}`;
  const matched = r.kind === 'local_type_id' ? [] : [r.description[1] ?? '', r.target ? `target ${r.target.spec}` : 'no target'];
  return [`<${r.kind}> ${r.localSpec}`, ...matched, value, patch];
}

function libbpfView(relocation: CoreRelocation): string[] {
  const p = relocation.patch;
  const value = relocation.poisoned ? 'poisoned' : p!.field === 'mem_sz' ? `mem_sz ${p!.from} -> ${p!.to}` : `${p!.from} -> ${p!.to}`;
  const patch = relocation.poisoned ? `substituting insn #${relocation.poisoned.insn} w/ invalid insn` : `patched insn #${p!.insn} (${p!.class}) ${p!.field} ${p!.from} -> ${p!.to}`;
  const first = relocation.candidates.find((c) => c.matching);
  const matched = relocation.kind === 'local_type_id' ? [] : first
    ? [`matching candidate #${first.index} <${first.kind}> ${first.spec}`, `target ${first.spec}`]
    : ['no matching targets found', 'no target'];
  return [`<${relocation.kind}> ${relocation.local}`, ...matched, value, patch];
}

/**
 * Every relocation where the reports of an object's programs differ from libbpf's log. A `.text`
 * function called by several programs is relocated once by libbpf and once per program here:
 * each copy must say the same. Empty: the reports list what libbpf did, in its words.
 */
export function reportDifferencesFromLibbpf(log: CoreLog, programs: Record<string, readonly CoreRelocationReport[]>): string[] {
  const differences: string[] = [];
  const ours = new Map<string, string[]>();
  for (const [program, reports] of Object.entries(programs)) {
    for (const r of reports) {
      const key = `${r.function}#${r.functionInsn}`;
      const view = reportView(r);
      const seen = ours.get(key);
      if (seen && JSON.stringify(seen) !== JSON.stringify(view)) {
        differences.push(`${key}: ${program}'s copy says ${JSON.stringify(view)}, another ${JSON.stringify(seen)}`);
      }
      ours.set(key, view);
    }
  }
  for (const { relocation, key } of actedOn(log)) {
    const view = ours.get(key);
    ours.delete(key);
    const theirs = libbpfView(relocation);
    if (!view) differences.push(`${key}: not reported, libbpf: ${JSON.stringify(theirs)}`);
    else if (JSON.stringify(view) !== JSON.stringify(theirs)) differences.push(`${key}: reported ${JSON.stringify(view)}, libbpf ${JSON.stringify(theirs)}`);
  }
  for (const [key, view] of ours) differences.push(`${key}: reported ${JSON.stringify(view)}, libbpf did not touch it`);
  return differences;
}

/** How many relocations of `log` were compared (libbpf patched or poisoned them). */
export function comparedCount(log: CoreLog): number {
  return actedOn(log).length;
}
