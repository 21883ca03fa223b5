import { mapOrder, programOrder, type ObjectSpec, type ProgramRelocation, type ProgramSpec } from '../../elf/index.js';
import { selectPrograms } from '../load/selectPrograms.js';
import { progTypeName } from '../../syscall/index.js';
import type { Attachment } from '../attach/attachment.js';
import type { BpfObject } from '../load/bpfObject.js';
import { renderTable } from './mapTable.js';
import type { LoadArgs } from './loadOptions.js';
import type { LoadOptions } from '../options.js';
import type { SignalWatch } from './signals.js';

/**
 * The programs --programs names, checked before anything is loaded, so that a
 * name no program has is refused in the words the user typed.
 */
export function selectedPrograms(spec: ObjectSpec, args: Pick<LoadArgs, 'programs'>): ProgramSpec[] {
  return selectPrograms(spec, args.programs?.length ? args.programs : undefined, '--programs');
}

/** The LoadOptions the program flags ask for. */
export function programLoadOptions(
  args: Pick<LoadArgs, 'programs' | 'attach' | 'logLevel' | 'btf' | 'freplaceTarget'>,
): Pick<LoadOptions, 'programs' | 'attach' | 'logLevel' | 'btfPath'> {
  const select = args.programs?.length ? args.programs : undefined;
  const targets = args.freplaceTarget && Object.keys(args.freplaceTarget).length > 0 ? args.freplaceTarget : undefined;
  return {
    ...(targets ? { programs: { ...(select ? { select } : {}), freplaceTargets: targets } } : select ? { programs: select } : {}),
    ...(args.btf !== undefined ? { btfPath: args.btf } : {}),
    ...(args.attach ? { attach: true } : {}),
    ...(args.logLevel ? { logLevel: args.logLevel } : {}),
  };
}

export interface RelocationRow {
  insn: number;
  kind: 'map' | 'call' | 'func' | 'extern';
  relocation: string;
  symbol: string;
  /** the map index (map references) or the called function (calls) */
  map?: number;
  map_name?: string;
  target?: string;
}

export interface ProgramRow {
  index: number;
  section: string;
  name: string;
  type: string;
  insns: number;
  tail_call?: number;
  attach_to?: string;
  fd?: number;
  id?: number;
  tag?: string;
  /** where --pin put it */
  pinned?: string;
  relocations?: RelocationRow[];
  /** with --log-level and --json: what the verifier said */
  verifier_log?: string;
}

function relocationRow(r: ProgramRelocation, mapIndex: ReadonlyMap<string, number>): RelocationRow {
  const base = { insn: r.insn, kind: r.kind, relocation: r.relocationType, symbol: r.symbol };
  if (r.kind === 'map') return { ...base, map: mapIndex.get(r.map) ?? -1, map_name: r.map };
  return { ...base, target: r.kind === 'extern' ? r.name : r.target };
}

export function programRowsFromSpec(spec: ObjectSpec, withRelocations: boolean): ProgramRow[] {
  const mapIndex = new Map(mapOrder(spec).map((m, i) => [m.name, i]));
  return programOrder(spec).map((program, index) => ({
    index,
    section: program.section,
    name: program.name,
    type: progTypeName(program.type),
    insns: program.insns.byteLength / 8,
    ...(program.tailCall !== undefined ? { tail_call: program.tailCall.slot } : {}),
    ...(program.attachTarget !== undefined ? { attach_to: program.attachTarget } : {}),
    ...(withRelocations ? { relocations: program.relocations.map((r) => relocationRow(r, mapIndex)) } : {}),
  }));
}

export function programRowsFromObject(object: BpfObject): ProgramRow[] {
  return object.programs.map((program) => ({
    index: program.index,
    section: program.section,
    name: program.name,
    type: progTypeName(program.info.type),
    insns: program.insnCount,
    ...(program.tailCallIndex !== undefined ? { tail_call: program.tailCallIndex } : {}),
    ...(program.attachTarget !== undefined ? { attach_to: program.attachTarget } : {}),
    fd: program.fd,
    id: program.info.id,
    tag: program.info.tag,
    ...(program.pinPath !== undefined ? { pinned: program.pinPath } : {}),
  }));
}

export function renderProgramTable(rows: ProgramRow[], loaded: boolean): string {
  if (rows.length === 0) return 'programs: none';
  const headers = ['#', 'section', 'name', 'type', 'insns'];
  if (loaded) headers.push('fd', 'id');
  const body = rows.map((r) => {
    const cells: (string | number)[] = [r.index, r.section, r.name, r.type, r.insns];
    if (loaded) cells.push(r.fd ?? '', r.id ?? '');
    return cells;
  });
  const lines = [`programs (${rows.length}):`, renderTable(headers, body)];
  for (const row of rows) {
    if (!row.relocations?.length) continue;
    lines.push(`relocations of '${row.section}':`);
    for (const r of row.relocations) {
      const what = r.kind === 'map' ? `map #${r.map} '${r.map_name}'` : `call ${r.target}`;
      lines.push(`  insn ${r.insn}: ${r.relocation} '${r.symbol}' -> ${what}`);
    }
  }
  return lines.join('\n');
}

/** `prog -> kind target, …` for the attachments the CLI holds; empty when there are none. */
export function describeAttachments(attachments: readonly Partial<Attachment>[]): string {
  return attachments.map((a) => `${a.program} -> ${a.kind} ${a.target}`).join(', ');
}

/**
 * Stay attached until SIGINT / SIGTERM or `duration` seconds; the caller's
 * close() then detaches everything.
 */
export async function holdAttachments(
  attachments: readonly Partial<Attachment>[],
  duration: number | undefined,
  out: (text: string) => void,
  signals: SignalWatch,
): Promise<void> {
  out(
    attachments.length
      ? `attached: ${describeAttachments(attachments)}\n` +
          (duration !== undefined ? `detaching in ${duration} s` : 'press Ctrl-C to detach and exit')
      : 'attached: nothing (no program says where to attach in its section name)',
  );
  if (!attachments.length) return;
  await signals.wait(duration);
}
