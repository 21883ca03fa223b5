import type { BtfType } from './btf/types.js';
import type { ElfSymbol } from './elfFile.js';
// What parsing an object yields: plain data wired by name, the same for the same bytes on any
// machine. It holds no view of the file: it can be copied, edited, printed and loaded on its own.

/** Which struct the `maps` section holds. */
export type MapConvention = 'samples' | 'tc';

export type ByteOrder = 'little' | 'big';

/**
 * Where a map is pinned by the load itself (the iproute2 tc layout):
 * `object` at <bpffs>/tc/<sha1 of the object>/<name>, `global` at <bpffs>/tc/globals/<name>,
 * `{ custom: id }` at the subpath iproute2's bpf_pinning database gives that id.
 * `byName` (libbpf's LIBBPF_PIN_BY_NAME) at <pin root>/<name>, /sys/fs/bpf by default.
 * (`pinDir` pins every map whatever this says.)
 */
export type MapPinning = 'none' | 'object' | 'global' | { custom: number } | 'byName';

/** An entry the loader writes into a map once every map and program exists. */
export interface MapContent {
  /** the key: an index into the outer map */
  slot: number;
  /** the inner map to insert, by name (tc's inner_idx) */
  map: string;
}

/** Where a map's definition came from: the legacy `maps` section. */
export interface LegacyMapSource {
  kind: 'maps';
  section: string;
  /** offset of the definition inside the section: map_fd[] is in this order */
  offset: number;
  /** bytes one definition takes in the file */
  defSize: number;
  /** a `static` map (STB_LOCAL symbol): bpf_load.c mis-resolved these and libbpf refused them */
  static: boolean;
  /** the struct's fields as written, for messages; the loader reads only the MapSpec's own fields */
  raw: {
    /** bpf_load_map_def.inner_map_idx (samples) */
    innerMapIdx?: number;
    /** struct bpf_elf_map's id, pinning, inner_id, inner_idx (tc) */
    tc?: { id: number; pinning: number; innerId: number; innerIdx: number };
  };
}

/** A map added to the spec by the program using bpf-load, not read from a file. */
export interface AddedMapSource {
  kind: 'added';
}

/** A map of the BTF-defined `.maps` section (libbpf's SEC(".maps")). */
export interface BtfMapSource {
  kind: 'btf';
  /** offset of the definition in `.maps` */
  offset: number;
}

/** The map libbpf makes of a global-data section (`.data`, `.rodata`, `.bss`, `.rodata.str1.1`, …). */
export interface DataMapSource {
  kind: 'data';
  section: string;
}

export type MapSpecSource = LegacyMapSource | AddedMapSource | BtfMapSource | DataMapSource;

/** A map-in-map's inner-map template given inline (BTF `__array(values, struct { … })`): created for the outer map's creation only. */
export interface InnerMapTemplate {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  numaNode?: number;
  mapExtra?: bigint;
}

/**
 * One map, as the loader creates it. Numbers are the kernel's (BPF_MAP_TYPE_*,
 * BPF_F_*); references to other maps are names.
 */
export interface MapSpec {
  name: string;
  /** BPF_MAP_TYPE_* number */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** map_flags */
  flags: number;
  /** map-in-map: the map whose shape the inner maps have (the template the outer map is created with) */
  innerMap?: string;
  /** with BPF_F_NUMA_NODE in flags: the node to allocate on */
  numaNode?: number;
  pinning: MapPinning;
  /** entries written after every map and program exists (inner maps of a map-in-map) */
  contents?: MapContent[];
  /** a PROG_ARRAY's `.values = { [slot] = &prog }`: programs (by name) put in once loaded */
  programContents?: { slot: number; program: string }[];
  /** map-in-map whose template is given inline, not as another map of the object */
  innerTemplate?: InnerMapTemplate;
  /** key and value as types of the object's BTF (0: none); used when the object's BTF is loaded */
  btf?: { keyTypeId: number; valueTypeId: number };
  /** map_extra (bloom filter hashes, …) */
  mapExtra?: bigint;
  /** entry 0's bytes, written after creation (global data: the section's contents, variables as set) */
  initialValue?: Uint8Array;
  /** BPF_MAP_FREEZE once initialValue is written (`.rodata`: constant for programs and user space) */
  freeze?: boolean;
  source: MapSpecSource;
}

/** What the section name's prefix says the program is, as samples/bpf named them. */
export type ProgramKind =
  | 'socket' | 'kprobe' | 'kretprobe' | 'tracepoint' | 'raw_tracepoint' | 'xdp' | 'perf_event' | 'cgroup/skb'
  | 'cgroup/sock' | 'sockops' | 'sk_skb' | 'sk_msg' | 'lwt_in' | 'lwt_out' | 'lwt_xmit' | 'lwt_seg6local'
  | 'classifier' | 'action'
  /** no known prefix: a program only under the tc convention or when named; its type comes from the loader's options */
  | 'untyped';

/** Fields every relocation has: where it sits in the file. */
interface RelocationSite {
  /** instruction index in the program's `insns` */
  insn: number;
  /** where the relocation sits in the file: section and instruction index there */
  sourceSection: string;
  sourceInsn: number;
  relocationType: string;
  /** the symbol as written (`maps+28` for the section symbol of a `static` map) */
  symbol: string;
}

/** An LD_IMM64 that must end up holding the fd of the map named `map`. */
export interface MapRelocation extends RelocationSite {
  kind: 'map';
  map: string;
  /** global data: the address of byte `offset` of the map's value (BPF_PSEUDO_MAP_VALUE), not the map itself */
  offset?: number;
}

/** A bpf-to-bpf call, already resolved into `insns` at parse time. */
export interface CallRelocation extends RelocationSite {
  kind: 'call';
  /** the called function */
  target: string;
  /** where the callee starts in `insns` */
  targetInsn: number;
}

/** An LD_IMM64 of a function's address (a callback: bpf_loop, bpf_for_each_map_elem), resolved at parse time to BPF_PSEUDO_FUNC. */
export interface FuncRelocation extends RelocationSite {
  kind: 'func';
  target: string;
  targetInsn: number;
}

/** An instruction referring to an extern the loader resolves against the kernel: a `__ksym` variable's ld_imm64 or a kfunc call. */
export interface ExternRelocation extends RelocationSite {
  kind: 'extern';
  /** the extern's symbol name */
  name: string;
  /** a call (a kfunc), else an ld_imm64 */
  call: boolean;
}

/** An object's externs as the loader resolves them: its undefined ELF symbols and its BTF as written. */
export interface ExternsSpec {
  symbols: ElfSymbol[];
  types: BtfType[];
}

export type ProgramRelocation = MapRelocation | CallRelocation | FuncRelocation | ExternRelocation;

/** A slot of a PROG_ARRAY map this program is put into once loaded (tail calls). */
export interface TailCall {
  /** the PROG_ARRAY map, by name; undefined when the section names none the object has (refused at load) */
  map: string | undefined;
  slot: number;
  /** tc's `<id>/<key>` sections: the struct bpf_elf_map id the section name gave */
  tcMapId?: number;
}

/**
 * A program section, as found in the object. The loader relocates a copy of
 * `insns` and never the spec's own bytes.
 */
export interface ProgramSpec {
  /** function symbol name (falls back to the section name); the key in ObjectSpec.programs */
  name: string;
  /** section name, e.g. `socket1`, `xdp`, `tracepoint/syscalls/sys_enter_write` */
  section: string;
  /** the section's index in the file: prog_fd[] is in this order */
  sectionIndex: number;
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
  /** where they start in the section (libbpf-style objects have several programs in one section) */
  sectionStart?: number;
  /** map references to patch at load time, and the calls resolved at parse time */
  relocations: ProgramRelocation[];
  /** `.text` functions appended after the section's instructions */
  subprograms: { name: string; insn: number; count: number }[];
  /** `socket/N`, `kprobe/N`, tc's `<map id>/<key>`: the PROG_ARRAY slot this program fills */
  tailCall?: TailCall;
  /** what follows the prefix: `cat/name` of a tracepoint, a kprobe's function, a raw tracepoint's name */
  attachTarget?: string;
  /** libbpf-style objects: BPF_PROG_LOAD's expected_attach_type from the section name */
  expectedAttachType?: number;
  /** BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS from the section name */
  progFlags?: number;
  /** libbpf's section-table entry that matched (`tp+`, `xdp.frags`…) and how libbpf would attach it */
  libbpfSection?: { entry: string; attach: string; autoAttach: boolean };
  /** func_info and line_info of the assembled program (BTF objects), instruction offsets in `insns` */
  btfExt?: {
    funcInfo: { insnOff: number; typeId: number }[];
    lineInfo: { insnOff: number; fileNameOff: number; lineOff: number; lineCol: number }[];
    /** CO-RE relocations at their instructions in `insns` (applied against the kernel's BTF, not by this loader yet) */
    coreRelos: { insnOff: number; typeId: number; accessString: string; kind: number }[];
  };
}

/** How a variable's bytes read (from its BTF type). */
export type VariableType =
  | { kind: 'int'; size: number; signed: boolean }
  | { kind: 'bool' }
  | { kind: 'chars'; length: number }
  | { kind: 'bytes'; size: number };

/** A global variable of a data section (from the DATASEC/VAR BTF): set it before load with setVariable(). */
export interface VariableSpec {
  name: string;
  /** the data map that holds it */
  map: string;
  section: string;
  offset: number;
  size: number;
  /** the variable's BTF type id */
  typeId: number;
  type: VariableType;
  /** `.rodata`: constant once loaded */
  readOnly: boolean;
}

/**
 * Everything the object says, before anything touches the kernel. The same
 * bytes always give the same spec; `--dry-run` prints exactly this. Edit a
 * copy (`copySpec`) and hand it to the loader, which validates it first.
 */
export interface ObjectSpec {
  /** how the file is named in messages */
  file: string;
  byteOrder: ByteOrder;
  /** which struct the `maps` section was read as */
  convention: MapConvention;
  /** from the `license` section; undefined when the object has none */
  license: string | undefined;
  /** from the `version` section; undefined when absent (the loader then uses the running kernel's) */
  kernVersion: number | undefined;
  /**
   * SHA-1 (hex) of the object file, when known: tc names the directory of
   * `pinning: 'object'` maps by it. readObjectSpec and loadBpfFile set it.
   */
  sourceHash: string | undefined;
  /** by name; map_fd[] order is mapOrder(spec) */
  maps: Record<string, MapSpec>;
  /** by name; prog_fd[] order is programOrder(spec) */
  programs: Record<string, ProgramSpec>;
  /** global variables by name (objects with BTF data sections) */
  variables?: Record<string, VariableSpec>;
  /** the object's BTF as the kernel takes it (DATASECs fixed up), for BPF_BTF_LOAD; absent without `.BTF` */
  btf?: { types: BtfType[]; strings: Uint8Array };
  /** the undefined symbols (externs) and the BTF as the object has it (before the fix-ups), for the loader to resolve them */
  externs?: ExternsSpec;
  /** executable sections that are no program of this spec (no known prefix, or empty), in section order */
  skippedSections: string[];
  /** things a user may want to know that did not stop parsing */
  warnings: string[];
}
