import type { ObjectSpec } from '../../elf/index.js';
import type { Attachment } from '../attach/attachment.js';
import { attachTc, type TcDirection } from '../attach/tc.js';
import type { BpfObject } from '../load/bpfObject.js';
import { programTypeFromName } from '../load/programType.js';
import { LoadError } from '../errors.js';
import type { LoadOptions } from '../options.js';
import type { BpfProgram } from '../programs/bpfProgram.js';
import { exportMaps } from '../share/exportMaps.js';
import { holdAttachments, type ProgramArgs } from './programs.js';
import type { OptionSpec } from './args.js';
import type { SignalWatch } from './signals.js';

/** One --tc: where to attach which program. */
export interface TcTarget {
  ifname: string;
  direction: TcDirection;
  /** function or section name; undefined: the object's only program that is no tail call */
  program: string | undefined;
}

/** The CLI's tc options, spread into the load command's options. */
export const TC_LOAD_OPTIONS = {
  tc: {
    type: 'string',
    array: true,
    requiresArg: true,
    describe:
      'after the load, attach at IFNAME:DIRECTION[:PROGRAM] (ingress or egress; PROGRAM by function or section name, ' +
      'default the only program that is no tail call), then wait for Ctrl-C (or --duration) and detach; repeatable',
    coerce: (values: string[]) => values.map(parseTcTarget),
  },
  'tc-mode': {
    type: 'string',
    choices: ['tcx', 'netlink'] as const,
    describe: 'with --tc: a TCX link, or a clsact qdisc + cls_bpf filter as tc makes; default TCX where the kernel has it',
  },
  type: {
    type: 'string',
    requiresArg: true,
    describe:
      'program type of sections whose names say none (tc\'s free names, <id>/<key> tail calls, a section named with ' +
      '--programs): cls (sched_cls, the default with --convention tc), act (sched_act), or a type name (lwt_xmit…)',
    // a name it does not know throws, which the parser reports as a usage error with its message
    coerce: (value: string) => (programTypeFromName(value, '--type'), value),
  },
  export: {
    type: 'string',
    requiresArg: true,
    describe:
      "after the load, send every map fd to the Unix datagram socket UDS_FILE in tc's format, as " +
      '`tc filter … bpf obj X.o export UDS_FILE` does (`tc exec bpf import UDS_FILE run CMD` receives them)',
  },
} as const satisfies Record<string, OptionSpec>;

export interface TcArgs {
  tc?: TcTarget[];
  tcMode?: 'tcx' | 'netlink';
  type?: string;
  export?: string;
}

function parseTcTarget(value: string): TcTarget {
  const [ifname = '', direction = '', ...rest] = String(value).split(':');
  if (ifname === '' || (direction !== 'ingress' && direction !== 'egress')) {
    throw new Error(`--tc takes IFNAME:DIRECTION[:PROGRAM] with DIRECTION ingress or egress, not '${value}'`);
  }
  const program = rest.join(':');
  return { ifname, direction, program: program === '' ? undefined : program };
}

export function tcLoadOptions(args: TcArgs): Pick<LoadOptions, 'programType'> {
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
 * After the load: --export sends the maps, --tc attaches; then hold every
 * attachment (these and --attach's) until Ctrl-C or --duration, and detach.
 */
export async function exportAttachAndHold(
  object: BpfObject,
  args: TcArgs & ProgramArgs,
  out: (text: string) => void,
  signals: SignalWatch,
): Promise<void> {
  // every --tc names a program of the object before anything leaves the process
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
    if (attached.length > 0 || args.attach === true) {
      await holdAttachments([...object.attachments, ...attached], args.duration, out, signals);
    }
  } finally {
    for (const attachment of attached.reverse()) attachment.close();
  }
}

function tcProgram(object: BpfObject, target: TcTarget): BpfProgram {
  if (target.program !== undefined) return object.program(target.program);
  const candidates = object.programs.filter((p) => p.tailCallIndex === undefined);
  if (candidates.length === 1) return candidates[0]!;
  throw new LoadError(
    `--tc ${target.ifname}:${target.direction}: say which program: ${target.ifname}:${target.direction}:PROGRAM ` +
      `(programs: ${candidates.map((p) => `${p.name} (sec '${p.section}')`).join(', ') || 'none'})`,
    { file: object.file },
    { code: 'BPF_LOAD_ARGUMENT' },
  );
}
