import type { ObjectSpec } from '../../elf/index.js';
import type { Attachment } from '../attach/attachment.js';
import { attachTc } from '../attach/tc.js';
import type { BpfObject } from '../load/bpfObject.js';
import { programTypeFromName } from '../load/programType.js';
import { LoadError } from '../errors.js';
import type { LoadOptions } from '../options.js';
import type { BpfProgram } from '../programs/bpfProgram.js';
import { checkReceiverSocket, exportMaps } from '../share/exportMaps.js';
import { ifNameToIndex } from '../../syscall/index.js';
import { describeAttachments, holdAttachments } from './programs.js';
import type { LoadArgs, TcTarget } from './loadOptions.js';
import type { SignalWatch } from './signals.js';

export function tcLoadOptions(args: Pick<LoadArgs, 'type'>): Pick<LoadOptions, 'programType'> {
  // a name it does not know throws an ARGUMENT error naming --type (exit 2), before anything is read or loaded
  if (args.type !== undefined) programTypeFromName(args.type, '--type');
  return args.type === undefined ? {} : { programType: args.type };
}

/**
 * A visible line for executable sections the load left out, so a user does
 * not take a partial load for a whole one; undefined when none were.
 */
export function skippedSummary(spec: ObjectSpec): string | undefined {
  const skipped = spec.skippedSections;
  if (skipped.length === 0) return undefined;
  return `skipped ${skipped.length} executable section(s) that are no program here: ${skipped.map((s) => `'${s}'`).join(', ')} ` +
    '(load them with --convention tc, or name one: --programs NAME --type TYPE)';
}

/**
 * Before the load, what --tc and --export name: the interface exists, the
 * program is in the object (or there is only one to take), the socket is
 * there to receive. A typo then costs nothing: no map made, no table printed.
 */
export function checkBeforeLoad(spec: ObjectSpec, args: Pick<LoadArgs, 'tc' | 'export' | 'file'>): void {
  const context = { file: args.file };
  const programs = Object.values(spec.programs);
  for (const target of args.tc ?? []) {
    const where = `--tc ${target.ifname}:${target.direction}`;
    try {
      ifNameToIndex(target.ifname);
    } catch (cause) {
      throw new LoadError(`${where}: no network interface named '${target.ifname}' here`, context, {
        cause, code: 'BPF_LOAD_ARGUMENT', hint: 'ip link shows the interfaces of this network namespace',
      });
    }
    if (target.program !== undefined) {
      if (!programs.some((p) => p.name === target.program || p.section === target.program)) {
        throw new LoadError(
          `${where}:${target.program}: no program of that function or section name (programs: ${programs.map((p) => p.name).join(', ') || 'none'})`,
          context,
          { code: 'BPF_LOAD_ARGUMENT' },
        );
      }
    } else {
      const candidates = programs.filter((p) => p.tailCall === undefined);
      if (candidates.length !== 1) throw sayWhichProgram(target, candidates, args.file);
    }
  }
  if (args.export !== undefined) checkReceiverSocket(args.export, `export the maps to '${args.export}'`, context);
}

function sayWhichProgram(target: TcTarget, candidates: readonly { name: string; section: string }[], file: string): LoadError {
  return new LoadError(
    `--tc ${target.ifname}:${target.direction}: say which program: ${target.ifname}:${target.direction}:PROGRAM ` +
      `(programs: ${candidates.map((p) => `${p.name} (sec '${p.section}')`).join(', ') || 'none'})`,
    { file },
    { code: 'BPF_LOAD_ARGUMENT' },
  );
}

/**
 * After the load: --export sends the maps, --tc attaches; then hold every
 * attachment (these and --attach's) until Ctrl-C or --duration, and detach
 * what --tc attached. Resolves to what to say once the object is closed (its
 * own attachments go with it): what was detached, and which programs were
 * loaded but never attached; undefined when nothing was held.
 */
export async function exportAttachAndHold(
  object: BpfObject,
  args: Pick<LoadArgs, 'tc' | 'tcMode' | 'export' | 'attach' | 'duration'>,
  out: (text: string) => void,
  signals: SignalWatch,
): Promise<string | undefined> {
  const targets = (args.tc ?? []).map((target) => ({ target, program: tcProgram(object, target) }));
  if (args.export !== undefined) {
    exportMaps(object, args.export);
    out(`exported ${object.maps.length} map fd(s) to ${args.export}`);
  }
  const attached: Attachment[] = [];
  try {
    for (const { target, program } of targets) {
      attached.push(attachTc(program, target.ifname, target.direction, args.tcMode ? { via: args.tcMode === 'tcx' ? 'link' : 'netlink' } : {}));
    }
    if (attached.length === 0 && args.attach !== true) return undefined;
    const held = [...object.attachments, ...attached] as Attachment[];
    await holdAttachments(held, args.duration, out, signals);
    return detachedSummary(object, held, signals.received);
  } finally {
    for (const attachment of attached.reverse()) attachment.close();
  }
}

/** After a hold: what was detached (and why now), and the loaded programs that never were attached. */
function detachedSummary(object: BpfObject, held: readonly Attachment[], signal: NodeJS.Signals | undefined): string {
  const lines = [held.length ? `detached${signal ? ` on ${signal}` : ''}: ${describeAttachments(held)}` : 'detached: nothing was attached'];
  const attached = new Set(held.map((a) => a.program));
  const idle = object.programs.filter((p) => !attached.has(p.name) && p.tailCallIndex === undefined);
  if (idle.length) {
    lines.push(
      `loaded but never attached: ${idle.map((p) => `${p.name} (sec '${p.section}')`).join(', ')} ` +
        '(their section names say no attach point; --tc IFNAME:DIRECTION:PROGRAM attaches a tc program)',
    );
  }
  return lines.join('\n');
}

function tcProgram(object: BpfObject, target: TcTarget): BpfProgram {
  if (target.program !== undefined) return object.program(target.program);
  const candidates = object.programs.filter((p) => p.tailCallIndex === undefined);
  if (candidates.length === 1) return candidates[0]!;
  throw sayWhichProgram(target, candidates, object.file);
}
