import { mapOrder, programOrder, type ObjectSpec, type ProgramRelocation } from '../../elf/index.js';
import { progTypeName } from '../../syscall/index.js';
import type { Attachment } from '../attach/attachment.js';
import type { BpfObject } from '../load/bpfObject.js';
import { renderTable } from './mapTable.js';
import type { OptionSpec } from './args.js';
import type { LoadOptions } from '../options.js';
import type { SignalWatch } from './signals.js';

/** The longest a Node timer waits (2^31-1 ms, about 24.8 days), in whole seconds. */
const MAX_DURATION_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** The CLI's program options, spread into the load command's options. */
export const PROGRAM_LOAD_OPTIONS = {
  programs: {
    type: 'string',
    array: true,
    describe: 'load only these programs (function or section names; repeat or list them)',
  },
  attach: {
    type: 'boolean',
    default: false,
    describe:
      'attach what the section names say (tracepoint/CAT/NAME, raw_tracepoint/NAME; kprobes fail clearly where the ' +
      'kernel has none), then wait for Ctrl-C (or --duration) before detaching',
  },
  duration: {
    type: 'number',
    describe: 'with --attach: stay attached this many seconds, then detach and exit',
    requiresArg: true,
    coerce: (value: number) => {
      // a timer holds at most 2^31-1 ms; a longer one would fire at once
      if (!Number.isFinite(value) || value < 0 || value > MAX_DURATION_SECONDS) {
        throw new Error(`--duration must be a number of seconds from 0 to ${MAX_DURATION_SECONDS}, not '${value}'`);
      }
      return value;
    },
  },
  'log-level': {
    type: 'number',
    describe: 'verifier log level (1 or 2) for every program; with --verbose the logs are printed',
    requiresArg: true,
    coerce: (value: number) => {
      // the kernel's log_level is a mask: 1 basic, 2 every instruction, 4 statistics
      if (!Number.isInteger(value) || value < 1 || value > 7) throw new Error(`--log-level must be 1, 2 (or a mask up to 7), not '${value}'`);
      return value;
    },
  },
} as const satisfies Record<string, OptionSpec>;

export interface ProgramArgs {
  programs?: (string | number)[];
  attach?: boolean;
  duration?: number;
  logLevel?: number;
  verbose?: boolean;
}

export function programLoadOptions(args: ProgramArgs): Pick<LoadOptions, 'programs' | 'attach' | 'logLevel'> {
  const names = (args.programs ?? []).flatMap((p) => String(p).split(',')).filter((p) => p !== '');
  return {
    ...(names.length ? { programs: names } : {}),
    ...(args.attach ? { attach: true } : {}),
    ...(args.logLevel ? { logLevel: args.logLevel } : {}),
  };
}

export interface RelocationRow {
  insn: number;
  kind: 'map' | 'call' | 'func';
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
}

function relocationRow(r: ProgramRelocation, mapIndex: ReadonlyMap<string, number>): RelocationRow {
  const base = { insn: r.insn, kind: r.kind, relocation: r.relocationType, symbol: r.symbol };
  return r.kind === 'map' ? { ...base, map: mapIndex.get(r.map) ?? -1, map_name: r.map } : { ...base, target: r.target };
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
