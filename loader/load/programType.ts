import type { ObjectSpec, ProgramSpec } from '../../elf/index.js';
import { BPF_PROG_TYPE, progTypeName } from '../../syscall/index.js';
import { LoadError } from '../errors.js';

/** tc's own words for the types its commands load: `tc filter … bpf` and `tc action … bpf`. */
const TC_WORDS: Readonly<Record<string, number>> = { cls: BPF_PROG_TYPE.SCHED_CLS, act: BPF_PROG_TYPE.SCHED_ACT };

/**
 * A program type from its name: tc's `cls` / `act`, or a BPF_PROG_TYPE name
 * as bpftool spells it (`sched_cls`, `lwt_xmit`, `socket_filter`…).
 */
export function programTypeFromName(name: string, argument = 'programType'): number {
  const lower = name.toLowerCase();
  const type = TC_WORDS[lower] ?? (BPF_PROG_TYPE as Record<string, number>)[lower.toUpperCase()];
  if (type === undefined || type === BPF_PROG_TYPE.UNSPEC) {
    const names = Object.values(BPF_PROG_TYPE).filter((t) => t !== BPF_PROG_TYPE.UNSPEC).map(progTypeName);
    throw new LoadError(`${argument} '${name}' is no program type (cls, act, ${names.join(', ')})`, {}, { code: 'BPF_LOAD_ARGUMENT' });
  }
  return type;
}

/**
 * The type a program loads as. A section whose name has a known prefix keeps
 * the type it says; an untyped one (tc's free names, `<id>/<key>` tail calls,
 * a section named in options.programs) takes options.programType, and under
 * the tc convention defaults to `cls` as `tc filter … bpf` does (the parser's type).
 */
export function programTypeOf(spec: ObjectSpec, program: ProgramSpec, options: { programType: string | undefined }): number {
  if (program.kind !== 'untyped' || (program.libbpfSection && program.type !== BPF_PROG_TYPE.UNSPEC)) return program.type;
  if (options.programType !== undefined) return programTypeFromName(options.programType);
  // the parser typed it where the convention has a default (tc: sched_cls)
  if (program.type !== BPF_PROG_TYPE.UNSPEC) return program.type;
  throw new LoadError('the section name says no program type', { file: spec.file, section: program.section, program: program.name }, {
    hint: 'give one with programType (--type), e.g. sched_cls, or load with the tc convention',
  });
}
