// What parsing an object yields: plain data, the same for the same bytes on any machine.

import type { ElfFile } from './elfFile.js';

/** Which struct the `maps` section holds. */
export type MapConvention = 'samples' | 'tc';

/** samples/bpf `struct bpf_load_map_def`, the fields bpf_load.c knew (28 bytes). */
export interface MapDef {
  type: number;
  key_size: number;
  value_size: number;
  max_entries: number;
  map_flags: number;
  inner_map_idx: number;
  numa_node: number;
}

/** iproute2 `struct bpf_elf_map` fields past the first five (tc convention only). */
export interface TcMapFields {
  id: number;
  pinning: number;
  inner_id: number;
  inner_idx: number;
}

export interface MapSpec {
  /** position in map_fd[]: maps are numbered in the order of their offsets in the section */
  index: number;
  /** the symbol's name, as written in the C source */
  name: string;
  /** offset of the definition inside the `maps` section */
  offset: number;
  /** bytes one definition takes in the file */
  defSize: number;
  def: MapDef;
  /** present with the tc convention */
  tc?: TcMapFields;
  /** a `static` map (STB_LOCAL symbol): bpf_load.c mis-resolved these and libbpf refused them */
  isStatic: boolean;
}

export interface MapsSectionInfo {
  index: number;
  size: number;
  defSize: number;
}

/** What the section name's prefix says the program is, as samples/bpf named them. */
export type ProgramKind =
  | 'socket' | 'kprobe' | 'kretprobe' | 'tracepoint' | 'raw_tracepoint' | 'xdp' | 'perf_event' | 'cgroup/skb'
  | 'cgroup/sock' | 'sockops' | 'sk_skb' | 'sk_msg' | 'lwt_in' | 'lwt_out' | 'lwt_xmit' | 'lwt_seg6local'
  | 'classifier' | 'action'
  /** no known prefix: a program only under the tc convention or when named; its type comes from the loader's options */
  | 'untyped';

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
  /** `socket/N`, `kprobe/N`, tc's `<map id>/<key>`: the slot of a PROG_ARRAY map this program fills (tail calls) */
  tailCallIndex: number | undefined;
  /**
   * tc's `<map id>/<key>` sections: the `id` of the PROG_ARRAY (struct bpf_elf_map.id) to fill;
   * undefined for bpf_load.c's `socket/N`, which fill the object's last PROG_ARRAY
   */
  tailCallMapId: number | undefined;
  /** what follows the prefix: `cat/name` of a tracepoint, a kprobe's function, a raw tracepoint's name */
  attachTarget: string | undefined;
}

/**
 * Everything the object says, before anything touches the kernel. The same
 * bytes always give the same spec; `--dry-run` prints exactly this.
 */
export interface ObjectSpec {
  file: string;
  littleEndian: boolean;
  convention: MapConvention;
  /** from the `license` section; undefined when the object has none */
  license: string | undefined;
  /** from the `version` section; undefined when absent (the loader then uses the running kernel's) */
  kernVersion: number | undefined;
  mapsSection: MapsSectionInfo | undefined;
  /** in map_fd[] order: by offset in the `maps` section */
  maps: MapSpec[];
  /** in prog_fd[] order: by section index */
  programs: ProgramSpec[];
  /** executable sections that are no program of this spec (no known prefix, or empty), in section order */
  skippedSections: string[];
  /** things a user may want to know that did not stop parsing */
  warnings: string[];
  /** the parsed container, for the loader's relocation step */
  readonly elf: ElfFile;
}
