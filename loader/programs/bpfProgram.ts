import { progGetInfo, progTypeName, type BpfFd, type ProgInfo } from '../../syscall/index.js';
import type { ProgramKind } from '../../elf/index.js';
import type { CoreRelocationReport } from '../../elf/btf/index.js';
import { pinPathOf } from '../bpffs/pinRecord.js';

/** Where a program came from in its object, besides section and name. */
export interface ProgramOrigin {
  /** the object file, for messages about this program (attach errors) */
  file?: string | undefined;
  kind: ProgramKind;
  /** instructions handed to the kernel (the section's plus appended .text functions) */
  insnCount: number;
  /** slot of the PROG_ARRAY this program was put in (`socket/N`, tc's `<id>/<key>`), if any */
  tailCallIndex: number | undefined;
  /** tc's `<id>/<key>`: the id (bpf_elf_map.id) of the PROG_ARRAY it was put in */
  tailCallMapId?: number | undefined;
  /** tracepoint `cat/name`, raw tracepoint or kprobe function from the section name */
  attachTarget: string | undefined;
  /** the instructions as loaded (relocated with the map fds of the load) */
  insns: Uint8Array;
  /** the verifier log of a successful load, when one was asked for (options.logLevel) */
  verifierLog: string | undefined;
  /** BPF_PROG_LOAD's expected_attach_type (libbpf-style section names): what a link attaches it as */
  expectedAttachType?: number | undefined;
  /** the CO-RE relocations the load applied, made into reports when first read */
  coreRelocations?: (() => readonly CoreRelocationReport[]) | undefined;
}

const NO_CORE: readonly CoreRelocationReport[] = Object.freeze([]);

/** A loaded program: one owned fd, plus what it is and what the kernel made of it. */
export class BpfProgram {
  readonly #owner: BpfFd;
  #info: ProgInfo | undefined;
  #core: readonly CoreRelocationReport[] | (() => readonly CoreRelocationReport[]) | undefined;
  readonly file: string | undefined;
  readonly kind: ProgramKind | undefined;
  readonly insnCount: number;
  readonly tailCallIndex: number | undefined;
  readonly tailCallMapId: number | undefined;
  readonly attachTarget: string | undefined;
  readonly insns: Uint8Array;
  readonly verifierLog: string | undefined;
  readonly expectedAttachType: number | undefined;

  constructor(
    owner: BpfFd,
    readonly section: string,
    /** the function's name in the object (the kernel keeps 15 characters) */
    readonly name: string,
    /** BPF_PROG_TYPE_* */
    readonly type: number,
    /** position in prog_fd[] */
    readonly index: number,
    origin?: ProgramOrigin,
  ) {
    this.#owner = owner;
    this.file = origin?.file;
    this.kind = origin?.kind;
    this.insns = origin?.insns ?? new Uint8Array(0);
    this.insnCount = origin?.insnCount ?? this.insns.byteLength / 8;
    this.tailCallIndex = origin?.tailCallIndex;
    this.tailCallMapId = origin?.tailCallMapId;
    this.attachTarget = origin?.attachTarget;
    this.verifierLog = origin?.verifierLog;
    this.expectedAttachType = origin?.expectedAttachType;
    this.#core = origin?.coreRelocations;
  }

  /**
   * What CO-RE did to each relocation record of this program, in instruction order: the kind,
   * the local type and access string, the kernel type matched, the old and new value or the
   * poison, in libbpf's words. Empty for a program without CO-RE records.
   */
  get coreRelocations(): readonly CoreRelocationReport[] {
    if (typeof this.#core === 'function') this.#core = Object.freeze(this.#core());
    return this.#core ?? NO_CORE;
  }

  get fd(): number {
    return this.#owner.fd;
  }

  get closed(): boolean {
    return this.#owner.closed;
  }

  /** `socket_filter`, `xdp`, … as bpftool spells the type */
  get typeName(): string {
    return progTypeName(this.type);
  }

  /** What the kernel says about this program (BPF_OBJ_GET_INFO_BY_FD), read once. */
  get info(): ProgInfo {
    this.#info ??= progGetInfo(this.fd);
    return this.#info;
  }

  /** Where the load pinned this program (or found it pinned and reused it), if it did. */
  get pinPath(): string | undefined {
    return pinPathOf(this);
  }

  /** The kernel's id, as `bpftool prog show id N` takes it. */
  get id(): number {
    return this.info.id;
  }

  /** The kernel's tag (hash of the instructions), hex. */
  get tag(): string {
    return this.info.tag;
  }

  /** Ids of the maps the program uses, as the kernel lists them. */
  get mapIds(): number[] {
    return this.info.map_ids;
  }

  /** The instructions after the verifier's rewrites; map references hold map ids. Read fresh each time. */
  xlatedInsns(): Uint8Array {
    return progGetInfo(this.fd).xlated;
  }

  close(): void {
    this.#owner.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
