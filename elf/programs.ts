import type { ElfFile, ElfSection } from './elfFile.js';
import { SHF_EXECINSTR, SHT_PROGBITS, STB_GLOBAL, STT_FUNC } from './elfFile.js';
import { ElfError, type ElfErrorContext } from './errors.js';
import { INSN_SIZE } from './instructions.js';
import { Linker } from './link.js';
import type { MapSpec, MapsSectionInfo } from './mapDefs.js';

/** What the section name's prefix says the program is, as samples/bpf named them. */
export type ProgramKind =
  | 'socket' | 'kprobe' | 'kretprobe' | 'tracepoint' | 'raw_tracepoint' | 'xdp' | 'perf_event' | 'cgroup/skb'
  | 'cgroup/sock' | 'sockops' | 'sk_skb' | 'sk_msg' | 'lwt_in' | 'lwt_out' | 'lwt_xmit' | 'lwt_seg6local'
  | 'classifier' | 'action';

/**
 * Section prefix → program type (BPF_PROG_TYPE_* numbers, kept here because
 * elf/ does not import syscall/). Matched by prefix like bpf_load.c's memcmp,
 * so `xdp_pass` and `socket1` count; first match wins.
 */
const PREFIXES: readonly { prefix: string; kind: ProgramKind; type: number }[] = [
  { prefix: 'socket', kind: 'socket', type: 1 },
  { prefix: 'kprobe/', kind: 'kprobe', type: 2 },
  { prefix: 'kretprobe/', kind: 'kretprobe', type: 2 },
  { prefix: 'tracepoint/', kind: 'tracepoint', type: 5 },
  { prefix: 'raw_tracepoint/', kind: 'raw_tracepoint', type: 17 },
  { prefix: 'xdp', kind: 'xdp', type: 6 },
  { prefix: 'perf_event', kind: 'perf_event', type: 7 },
  { prefix: 'cgroup/skb', kind: 'cgroup/skb', type: 8 },
  { prefix: 'cgroup/sock', kind: 'cgroup/sock', type: 9 },
  { prefix: 'sockops', kind: 'sockops', type: 13 },
  { prefix: 'sk_skb', kind: 'sk_skb', type: 14 },
  { prefix: 'sk_msg', kind: 'sk_msg', type: 16 },
  { prefix: 'lwt_in', kind: 'lwt_in', type: 10 },
  { prefix: 'lwt_out', kind: 'lwt_out', type: 11 },
  { prefix: 'lwt_xmit', kind: 'lwt_xmit', type: 12 },
  { prefix: 'lwt_seg6local', kind: 'lwt_seg6local', type: 19 },
  { prefix: 'classifier', kind: 'classifier', type: 3 },
  { prefix: 'action', kind: 'action', type: 4 },
];

export const KNOWN_PROGRAM_PREFIXES: readonly string[] = PREFIXES.map((p) => p.prefix);

/** An LD_IMM64 that must end up holding a map's fd. */
export interface MapRelocation {
  kind: 'map';
  /** instruction index in the program's `insns` */
  insn: number;
  /** where the relocation sits in the file: section and instruction index there */
  sourceSection: string;
  sourceInsn: number;
  relocationType: string;
  /** the symbol as written (`maps+28` for the section symbol of a `static` map) */
  symbol: string;
  mapIndex: number;
  mapName: string;
  mapOffset: number;
}

/** A bpf-to-bpf call, already resolved into `insns` at parse time. */
export interface CallRelocation {
  kind: 'call';
  insn: number;
  sourceSection: string;
  sourceInsn: number;
  relocationType: string;
  symbol: string;
  /** the called function */
  target: string;
  /** where the callee starts in `insns` */
  targetInsn: number;
}

export type ProgramRelocation = MapRelocation | CallRelocation;

/**
 * A program section, as found in the object. The loader relocates a copy of
 * `insns` (relocateProgram) and never the spec's own bytes.
 */
export interface ProgramSpec {
  /** section name, e.g. `socket1`, `xdp`, `tracepoint/syscalls/sys_enter_write` */
  section: string;
  sectionIndex: number;
  /** function symbol name (falls back to the section name) */
  name: string;
  /** BPF_PROG_TYPE_* number */
  type: number;
  /** the section-name prefix that gave the type */
  kind: ProgramKind;
  /**
   * The instructions to load, 8 bytes each: the section's own, followed by the
   * `.text` functions it calls (bpf-to-bpf calls already pointed at them).
   * Map references are still unpatched: see `relocations`.
   */
  insns: Uint8Array;
  /** instructions that came from the program's own section */
  sectionInsnCount: number;
  /** map references to patch at load time, and the calls resolved at parse time */
  relocations: ProgramRelocation[];
  /** `.text` functions appended after the section's instructions */
  subprograms: { name: string; insn: number; count: number }[];
  /** `socket/N`, `kprobe/N`…: the slot of the object's PROG_ARRAY map this program fills (tail calls) */
  tailCallIndex: number | undefined;
  /** what follows the prefix: `cat/name` of a tracepoint, a kprobe's function, a raw tracepoint's name */
  attachTarget: string | undefined;
}

export interface ProgramsResult {
  programs: ProgramSpec[];
  warnings: string[];
}

export function programKindOf(section: string): { kind: ProgramKind; type: number; prefix: string } | undefined {
  return PREFIXES.find((p) => section.startsWith(p.prefix));
}

/**
 * Every executable section whose name the samples/bpf convention knows becomes
 * a program, in section order (prog_fd[] order). Relocations are checked and
 * resolved to map indexes here, without any fd: a bad one is an ElfError naming
 * the section, the instruction and the relocation type.
 */
export function readPrograms(
  elf: ElfFile,
  file: string,
  maps: readonly MapSpec[] = [],
  mapsSection: MapsSectionInfo | undefined = undefined,
): ProgramsResult {
  const programs: ProgramSpec[] = [];
  const warnings: string[] = [];
  const linker = new Linker(elf, file, maps, mapsSection);
  for (const section of elf.sections) {
    if (section.type !== SHT_PROGBITS || !(section.flags & SHF_EXECINSTR) || section.name === '.text') continue;
    const known = programKindOf(section.name);
    if (!known) {
      warnings.push(
        `${file}: sec '${section.name}': executable section with no known program prefix, skipped ` +
          `(known: ${KNOWN_PROGRAM_PREFIXES.join(', ')})`,
      );
      continue;
    }
    if (section.size === 0) {
      warnings.push(`${file}: sec '${section.name}': program section is empty, skipped`);
      continue;
    }
    const name = functionName(elf, section);
    const context: ElfErrorContext = { file, section: section.name, program: name };
    if (section.size % INSN_SIZE !== 0) {
      throw new ElfError(`section size ${section.size} is not a whole number of ${INSN_SIZE}-byte instructions`, context);
    }
    const rest = section.name.slice(known.prefix.length);
    programs.push({
      section: section.name,
      sectionIndex: section.index,
      name,
      type: known.type,
      kind: known.kind,
      ...linker.link(section, name),
      sectionInsnCount: section.size / INSN_SIZE,
      tailCallIndex: tailCallIndex(known.prefix, rest),
      attachTarget: attachTarget(known.prefix, rest),
    });
  }
  return { programs, warnings };
}

function functionName(elf: ElfFile, section: ElfSection): string {
  const functions = elf.symbols.filter((s) => s.shndx === section.index && s.type === STT_FUNC && s.name !== '');
  const entry =
    functions.find((s) => s.value === 0 && s.bind === STB_GLOBAL) ?? functions.find((s) => s.value === 0) ?? functions[0];
  return entry?.name ?? section.name;
}

/**
 * The sections bpf_load.c read a slot number from: `socket/N`, `kprobe/N`,
 * `kretprobe/N`, and (meant to, see the spec) `sockops/N`, `sk_skb/N`,
 * `sk_msg/N`. Elsewhere `/N` is part of the name (`xdp/1` is an XDP program).
 */
const TAIL_CALL_PREFIXES: ReadonlySet<string> = new Set(['socket', 'kprobe/', 'kretprobe/', 'sockops', 'sk_skb', 'sk_msg']);

/** `socket/3`, `kprobe/3`: a program for slot 3 of the PROG_ARRAY map (bpf_load.c's tail-call convention). */
export function tailCallIndex(prefix: string, rest: string): number | undefined {
  if (!TAIL_CALL_PREFIXES.has(prefix)) return undefined;
  const digits = prefix.endsWith('/') ? rest : rest.startsWith('/') ? rest.slice(1) : undefined;
  if (digits === undefined || !/^[0-9]{1,9}$/.test(digits)) return undefined;
  return Number(digits);
}

function attachTarget(prefix: string, rest: string): string | undefined {
  if (!prefix.endsWith('/') || rest === '' || /^[0-9]+$/.test(rest)) return undefined;
  return rest;
}
