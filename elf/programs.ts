import type { ElfFile, ElfSection, ElfSymbol } from './elfFile.js';
import { SHF_EXECINSTR, SHT_PROGBITS, STB_GLOBAL, STT_FUNC } from './elfFile.js';
import { ElfError, type ElfErrorContext } from './errors.js';
import { INSN_SIZE } from './instructions.js';
import { BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, BPF_PROG_TYPE } from '../uapi/bpf.js';
import { sectionDefinition, type SectionDef } from './sectionNames.js';
import { Linker } from './link.js';
import { tcTailCallSlot } from './tcConvention.js';
import type { MapConvention, ProgramSpec, ProgramKind } from './types.js';

/**
 * Section prefix → program type. Matched by prefix like bpf_load.c's memcmp,
 * so `xdp_pass` and `socket1` count; first match wins.
 */
const PREFIXES: readonly { prefix: string; kind: ProgramKind; type: number }[] = [
  { prefix: 'socket', kind: 'socket', type: BPF_PROG_TYPE.SOCKET_FILTER },
  { prefix: 'kprobe/', kind: 'kprobe', type: BPF_PROG_TYPE.KPROBE },
  { prefix: 'kretprobe/', kind: 'kretprobe', type: BPF_PROG_TYPE.KPROBE },
  { prefix: 'tracepoint/', kind: 'tracepoint', type: BPF_PROG_TYPE.TRACEPOINT },
  { prefix: 'raw_tracepoint/', kind: 'raw_tracepoint', type: BPF_PROG_TYPE.RAW_TRACEPOINT },
  { prefix: 'xdp', kind: 'xdp', type: BPF_PROG_TYPE.XDP },
  { prefix: 'perf_event', kind: 'perf_event', type: BPF_PROG_TYPE.PERF_EVENT },
  { prefix: 'cgroup/skb', kind: 'cgroup/skb', type: BPF_PROG_TYPE.CGROUP_SKB },
  { prefix: 'cgroup/sock', kind: 'cgroup/sock', type: BPF_PROG_TYPE.CGROUP_SOCK },
  { prefix: 'sockops', kind: 'sockops', type: BPF_PROG_TYPE.SOCK_OPS },
  { prefix: 'sk_skb', kind: 'sk_skb', type: BPF_PROG_TYPE.SK_SKB },
  { prefix: 'sk_msg', kind: 'sk_msg', type: BPF_PROG_TYPE.SK_MSG },
  { prefix: 'lwt_in', kind: 'lwt_in', type: BPF_PROG_TYPE.LWT_IN },
  { prefix: 'lwt_out', kind: 'lwt_out', type: BPF_PROG_TYPE.LWT_OUT },
  { prefix: 'lwt_xmit', kind: 'lwt_xmit', type: BPF_PROG_TYPE.LWT_XMIT },
  { prefix: 'lwt_seg6local', kind: 'lwt_seg6local', type: BPF_PROG_TYPE.LWT_SEG6LOCAL },
  { prefix: 'classifier', kind: 'classifier', type: BPF_PROG_TYPE.SCHED_CLS },
  { prefix: 'action', kind: 'action', type: BPF_PROG_TYPE.SCHED_ACT },
];

export const KNOWN_PROGRAM_PREFIXES: readonly string[] = PREFIXES.map((p) => p.prefix);
/** for the warning of every skipped section */
const KNOWN_LIST = KNOWN_PROGRAM_PREFIXES.join(', ');

export interface ProgramsResult {
  programs: ProgramSpec[];
  warnings: string[];
  skippedSections: string[];
}

export interface ProgramRules {
  convention: MapConvention;
  /** sections to read as (untyped) programs even without a known prefix */
  sections: readonly string[];
  /** a libbpf-style object: section names as libbpf 1.x reads them, `.maps` and global data resolved here */
  modern?: {
    resolve: (symbol: ElfSymbol, imm: number) => { map: string; offset?: number } | undefined;
  };
}

export function programKindOf(section: string): { kind: ProgramKind; type: number; prefix: string } | undefined {
  for (const p of PREFIXES) if (section.startsWith(p.prefix)) return p;
  return undefined;
}

/**
 * Every executable section whose name the samples/bpf convention knows becomes
 * a program, in section order (prog_fd[] order); under the tc convention, as
 * tc loads any section by name, every executable section but `.text` does
 * (those with no known prefix as `untyped`). Relocations are checked and
 * resolved to map indexes here, without any fd: a bad one is an ElfError naming
 * the section, the instruction and the relocation type.
 */
export function readPrograms(
  elf: ElfFile,
  file: string,
  mapsByOffset: ReadonlyMap<number, string> = new Map(),
  mapsSection: ElfSection | undefined = undefined,
  rules: ProgramRules = { convention: 'samples', sections: [] },
  /** BTF objects with a legacy `maps` section: `.maps` and data references still resolve */
  resolve?: (symbol: ElfSymbol, imm: number) => { map: string; offset?: number } | undefined,
): ProgramsResult {
  const programs: ProgramSpec[] = [];
  const warnings: string[] = [];
  const skippedSections: string[] = [];
  const linker = new Linker(elf, file, mapsByOffset, mapsSection, rules.modern?.resolve ?? resolve, rules.modern !== undefined);
  const tc = rules.convention === 'tc';
  for (const section of elf.sections) {
    if (section.type !== SHT_PROGBITS || !(section.flags & SHF_EXECINSTR) || section.name === '.text') continue;
    if (rules.modern) {
      programs.push(...modernPrograms(elf, file, section, linker, rules.sections, skippedSections, warnings));
      continue;
    }
    const known = programKindOf(section.name) ?? (tc ? TC_UNTYPED : rules.sections.includes(section.name) ? UNTYPED : undefined);
    if (!known) {
      skippedSections.push(section.name);
      warnings.push(
        `${file}: sec '${section.name}': executable section with no known program prefix, skipped ` +
          `(known: ${KNOWN_LIST}; load it by naming it with a program type, ` +
          `or with the tc convention)`,
      );
      continue;
    }
    if (section.size === 0) {
      skippedSections.push(section.name);
      warnings.push(`${file}: sec '${section.name}': program section is empty, skipped`);
      continue;
    }
    const name = functionName(elf, section);
    const context: ElfErrorContext = { file, section: section.name, program: name };
    if (section.size % INSN_SIZE !== 0) {
      throw new ElfError(`section size ${section.size} is not a whole number of ${INSN_SIZE}-byte instructions`, context);
    }
    const rest = section.name.slice(known.prefix.length);
    // tc's slot rule replaces bpf_load.c's: under tc, `socket/3` is just a socket program's name
    const tcSlot = tc ? tcTailCallSlot(section.name) : undefined;
    // a prefix ending in `/` (`kprobe/`) takes what follows as a target or a slot; a character
    // test, as the prefixes are ASCII
    const slashed = known.prefix.charCodeAt(known.prefix.length - 1) === 0x2f;
    const slot = tc ? tcSlot?.key : tailCallIndex(known.prefix, rest);
    const target = slashed && rest !== '' && !isDigits(rest) ? rest : undefined;
    const linked = linker.link(section, name);
    // written field by field in the spec's key order, optional ones only when present: spreads of
    // object literals here cost more than the rest of the program's reading
    const program: ProgramSpec = {
      name,
      section: section.name,
      sectionIndex: section.index,
      type: known.type,
      kind: known.kind,
      insns: linked.insns,
      relocations: linked.relocations,
      subprograms: linked.subprograms,
      sectionInsnCount: section.size / INSN_SIZE,
    };
    // the map is named once every map is known (object.ts)
    if (slot !== undefined) program.tailCall = tcSlot ? { map: undefined, slot, tcMapId: tcSlot.mapId } : { map: undefined, slot };
    if (target !== undefined) program.attachTarget = target;
    programs.push(program);
  }
  return { programs, warnings, skippedSections };
}

/** The legacy kinds auto-attach and messages know, for the libbpf attach kinds that have one. */
function kindOfAttach(def: SectionDef): ProgramKind {
  switch (def.attach) {
    case 'tracepoint': return 'tracepoint';
    case 'raw_tp': return 'raw_tracepoint';
    case 'perf_event': return 'perf_event';
    case 'xdp': return 'xdp';
    case 'kprobe': return def.target?.kind === 'kprobe' && def.target.retprobe ? 'kretprobe' : 'kprobe';
    default: return 'untyped';
  }
}

function targetOf(def: SectionDef): string | undefined {
  const target = def.target;
  if (!target) return undefined;
  switch (target.kind) {
    case 'tracepoint': return `${target.category}/${target.name}`;
    case 'raw_tp': return target.name;
    case 'kprobe': return target.offset ? `${target.function}+${target.offset}` : target.function;
    default: return undefined;
  }
}

/**
 * The programs of a section of a libbpf-style object, typed by libbpf's section table: every
 * function of the section is one (libbpf 1.x), in offset order.
 */
function modernPrograms(
  elf: ElfFile, file: string, section: ElfSection, linker: Linker, named: readonly string[], skipped: string[], warnings: string[],
): ProgramSpec[] {
  const def = sectionDefinition(section.name);
  if (!def && !named.includes(section.name)) {
    skipped.push(section.name);
    warnings.push(`${file}: sec '${section.name}': no program type libbpf knows for this section name, skipped (libbpf refuses it)`);
    return [];
  }
  if (section.size === 0) {
    skipped.push(section.name);
    warnings.push(`${file}: sec '${section.name}': program section is empty, skipped`);
    return [];
  }
  if (section.size % INSN_SIZE !== 0) {
    throw new ElfError(`section size ${section.size} is not a whole number of ${INSN_SIZE}-byte instructions`, { file, section: section.name });
  }
  const total = section.size / INSN_SIZE;
  const functions = elf.symbols
    .filter((s) => s.shndx === section.index && s.type === STT_FUNC && s.name !== '')
    .sort((a, b) => a.value - b.value);
  if (functions.length === 0) return [modernProgram(def, section, linker, section.name, 0, total)];
  return functions.map((symbol, i) => {
    const start = symbol.value / INSN_SIZE;
    const next = functions[i + 1];
    const end = symbol.size > 0 ? (symbol.value + symbol.size) / INSN_SIZE : next ? next.value / INSN_SIZE : total;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start >= end || end > total) {
      throw new ElfError(`function '${symbol.name}' at offset ${symbol.value} (${symbol.size} bytes) does not fit the section`, { file, section: section.name });
    }
    return modernProgram(def, section, linker, symbol.name, start, end - start);
  });
}

function modernProgram(def: SectionDef | undefined, section: ElfSection, linker: Linker, name: string, start: number, count: number): ProgramSpec {
  const target = def && targetOf(def);
  const progFlags = def ? (def.sleepable ? BPF_F_SLEEPABLE : 0) | (def.xdpFrags ? BPF_F_XDP_HAS_FRAGS : 0) : 0;
  return {
    name,
    section: section.name,
    sectionIndex: section.index,
    type: def?.programType ?? BPF_PROG_TYPE.UNSPEC,
    kind: def ? kindOfAttach(def) : 'untyped',
    ...linker.link(section, name, start, count),
    sectionInsnCount: count,
    ...(start ? { sectionStart: start } : {}),
    ...(target === undefined ? {} : { attachTarget: target }),
    ...(def && def.expectedAttachType ? { expectedAttachType: def.expectedAttachType } : {}),
    ...(progFlags ? { progFlags } : {}),
    ...(def ? { libbpfSection: { entry: def.entry, attach: def.attach, autoAttach: def.autoAttach } } : {}),
  };
}

/** A section whose name says no type: the loader gives it one (its options.programType). */
const UNTYPED = { prefix: '', kind: 'untyped', type: BPF_PROG_TYPE.UNSPEC } as const;
/** ... unless the loader is told otherwise, under the tc convention what `tc filter … bpf` loads: sched_cls */
const TC_UNTYPED = { ...UNTYPED, type: BPF_PROG_TYPE.SCHED_CLS } as const;

/** The section's global function at offset 0, else its first function at 0, else its first function. */
function functionName(elf: ElfFile, section: ElfSection): string {
  let first: ElfSymbol | undefined;
  let atZero: ElfSymbol | undefined;
  for (const s of elf.symbols) {
    if (s.shndx !== section.index || s.type !== STT_FUNC || s.name === '') continue;
    if (s.value === 0 && s.bind === STB_GLOBAL) return s.name;
    first ??= s;
    if (s.value === 0) atZero ??= s;
  }
  return (atZero ?? first)?.name ?? section.name;
}

/**
 * `socket/3`, `kprobe/3`: a program for slot 3 of the PROG_ARRAY map (bpf_load.c's tail-call
 * convention). bpf_load.c read a slot number from `socket/N`, `kprobe/N`, `kretprobe/N`, and
 * (meant to, see the spec) `sockops/N`, `sk_skb/N`, `sk_msg/N`; elsewhere `/N` is part of the
 * name (`xdp/1` is an XDP program). The prefix is one of PREFIXES' own strings, so each
 * comparison is an identity check.
 */
export function tailCallIndex(prefix: string, rest: string): number | undefined {
  if (prefix !== 'socket' && prefix !== 'kprobe/' && prefix !== 'kretprobe/' && prefix !== 'sockops' && prefix !== 'sk_skb' && prefix !== 'sk_msg') {
    return undefined;
  }
  const digits = prefix.charCodeAt(prefix.length - 1) === 0x2f ? rest : rest.charCodeAt(0) === 0x2f ? rest.slice(1) : undefined;
  if (digits === undefined || digits.length > 9 || !isDigits(digits)) return undefined;
  return Number(digits);
}

/** /^[0-9]+$/, without a trip into the regular expression engine for every program. */
function isDigits(text: string): boolean {
  if (text === '') return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}
