import { resolve } from 'node:path';
import {
  SyscallError, errno, ifNameToIndex, objectIdOf, progGetFdById, progGetInfo, progTypeName, type BpfFd, type ProgInfo,
} from '../../syscall/index.js';
import { BpfProgram } from '../programs/bpfProgram.js';
import { pinFd } from '../bpffs/bpffs.js';
import { LoadError, argumentError, checkString, type LoadErrorContext } from '../errors.js';

/** A program to attach: a loaded BpfProgram, or a bare program fd the caller keeps owning. */
export type ProgramRef = BpfProgram | number;

export type AttachKind =
  | 'socket' | 'xdp' | 'tracepoint' | 'raw_tracepoint' | 'kprobe' | 'kprobe_multi' | 'uprobe' | 'uprobe_multi' | 'usdt' | 'cgroup' | 'tc'
  | 'perf_event' | 'tracing' | 'lsm' | 'iter';

/**
 * How an attachment is held: `link`, a bpf_link the kernel ends with its last
 * fd or pin (so with the process, even one killed by SIGKILL); `netlink` (XDP
 * over rtnetlink) and `legacy` (BPF_PROG_ATTACH, perf event ioctls), which
 * stay until someone removes them; `fd` (socket filters, which end with
 * their socket).
 */
export type AttachVia = 'link' | 'netlink' | 'legacy' | 'fd';

/**
 * A program attached somewhere. close() detaches (idempotent); the program
 * itself stays loaded and belongs to whoever loaded it.
 */
export class Attachment {
  #detach: (() => void) | undefined;
  readonly #link: BpfFd | undefined;

  constructor(
    readonly kind: AttachKind,
    /** where: `lo`, `syscalls/sys_enter_getuid`, a cgroup path, `socket fd 12`… */
    readonly target: string,
    /** the program's name, or `fd N` */
    readonly program: string,
    detach: () => void,
    /** the bpf_link that holds the attachment, when it is one (close() closes it) */
    link?: BpfFd,
    readonly via: AttachVia = link ? 'link' : 'legacy',
  ) {
    this.#detach = detach;
    this.#link = link;
  }

  get closed(): boolean {
    return this.#detach === undefined;
  }

  /** The kernel id of the bpf_link (`bpftool link show id N`), or undefined when the attachment is not a link. */
  get linkId(): number | undefined {
    if (!this.#link || this.closed) return undefined;
    return objectIdOf(this.#link.fd);
  }

  /**
   * Pin the bpf_link on bpffs, so the attachment outlives this process (as
   * `bpftool … pinned` does): close() then only lets go of this process's
   * hold, and removing the pin (`rm`, `load-kern-object unpin`) detaches.
   */
  pin(path: string): void {
    checkString(path, 'path', 'attachment.pin');
    const where = `pin the ${this.kind} attachment of ${this.program} at '${path}'`;
    if (this.closed) throw new LoadError(`${where}: it was closed`, { program: this.program });
    if (!this.#link) {
      const held = this.via === 'fd' ? 'by its socket' : this.via === 'link' ? 'by several bpf_links (one per CPU)' : `by ${this.via}`;
      throw new LoadError(`${where}: only a single bpf_link can be pinned, and this attachment is held ${held}`,
        { program: this.program }, {
          hint: this.via === 'link'
            ? 'a perf event attachment has one link per CPU: attach with options.cpu or options.pid for a single one'
            : "attach it with via: 'link' (the default where the kernel has links)",
        });
    }
    pinFd(this.#link.fd, resolve(path), { program: this.program });
  }

  close(): void {
    const detach = this.#detach;
    if (!detach) return;
    this.#detach = undefined;
    detach();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A ProgramRef argument: a BpfProgram, or a program fd (a non-negative integer). */
/** An interface argument: a name or a positive ifindex. */
export function checkInterface(ifname: unknown, where: string): asserts ifname is string | number {
  if (typeof ifname === 'string' ? ifname === '' : !(typeof ifname === 'number' && Number.isInteger(ifname) && ifname > 0)) {
    throw argumentError(where, 'ifname', 'an interface name or a positive ifindex', ifname);
  }
}

export function checkProgramRef(program: unknown, where: string): asserts program is ProgramRef {
  if (typeof program === 'number' ? Number.isInteger(program) && program >= 0 : program instanceof BpfProgram) return;
  throw argumentError(where, 'program', 'a BpfProgram or a program fd', program);
}

/** The fd to attach; a program whose object was closed is refused with the attach step's context. */
export function progFdOf(program: ProgramRef, what: string): number {
  if (typeof program === 'number') return program;
  if (program.closed) {
    throw new LoadError(`${what}: the program was closed (by its object's close()?)`, programContext(program));
  }
  return program.fd;
}

/**
 * Refuse a program of a type the hook does not run, before the kernel does:
 * its answer, a bare EINVAL, reads the same as "this kernel has no link for
 * this hook". A bare fd is asked what it is (its info is returned, read once).
 */
export function requireProgramType(program: ProgramRef, what: string, accepted: readonly number[], hint: string): ProgInfo | undefined {
  const info = typeof program === 'number' ? attachStep(program, what, () => progGetInfo(program)) : undefined;
  const type = info ? info.type : (program as BpfProgram).type;
  if (!accepted.includes(type)) {
    throw new LoadError(`${what}: the program is ${progTypeName(type)}, not ${accepted.map(progTypeName).join(' or ')}`, programContext(program), {
      code: 'BPF_LOAD_ARGUMENT',
      hint,
    });
  }
  return info;
}

/** The program's kernel id, which outlives the fd it was attached with. */
export function programIdOf(program: ProgramRef, what: string): number {
  return attachStep(program, what, () => (typeof program === 'number' ? progGetInfo(program).id : program.id));
}

/**
 * Detaching names the program by fd, but the fd it was attached with may have
 * been closed (or reused for something else) since: then the id taken at
 * attach time finds the program again. Does nothing when the program is gone
 * from the kernel (ENOENT), since a program attached anywhere still exists.
 */
export function detachProgram(program: ProgramRef, id: number, detach: (progFd: number) => void): void {
  if (typeof program !== 'number' && !program.closed) return detach(program.fd);
  if (typeof program === 'number' && sameProgram(program, id)) return detach(program);
  let owner: BpfFd;
  try {
    owner = progGetFdById(id);
  } catch (error) {
    if (error instanceof SyscallError && error.errno === errno.ENOENT) return;
    throw error;
  }
  try {
    detach(owner.fd);
  } finally {
    owner.close();
  }
}

function sameProgram(fd: number, id: number): boolean {
  try {
    return progGetInfo(fd).id === id;
  } catch (error) {
    if (error instanceof SyscallError) return false;
    throw error;
  }
}

/** An interface by name or index; a name that names none is refused with the attach step's context. */
/** `program` is undefined for a step that is about an interface alone (detachXdp). */
export function interfaceIndex(program: ProgramRef | undefined, ifname: string | number, what: string): number {
  if (typeof ifname === 'number') return ifname;
  try {
    return ifNameToIndex(ifname);
  } catch (cause) {
    throw interfaceError(`${what}: no such interface`, programContext(program), cause);
  }
}

/** A failed name lookup: an interface the caller named that does not exist is their input (like a missing file), not a kernel refusal. */
export function interfaceError(message: string, context: LoadErrorContext, cause: unknown): LoadError {
  const missing = cause instanceof SyscallError && cause.errno === errno.ENODEV;
  return new LoadError(message, context, { cause, hint: 'see `ip link`', ...(missing ? { code: 'BPF_LOAD_INPUT' as const } : {}) });
}

export function programLabel(program: ProgramRef): string {
  return typeof program === 'number' ? `fd ${program}` : program.name;
}

export function programContext(program: ProgramRef | undefined): LoadErrorContext {
  if (program === undefined || typeof program === 'number') return {};
  return { file: program.file, section: program.section, program: program.name };
}

/** Run a step; a SyscallError becomes a LoadError saying what was being attached where. */
export function attachStep<T>(
  program: ProgramRef | undefined,
  what: string,
  step: () => T,
  hint?: string | ((cause: SyscallError) => string | undefined),
): T {
  try {
    return step();
  } catch (cause) {
    if (cause instanceof SyscallError) {
      const text = typeof hint === 'function' ? hint(cause) : hint;
      throw new LoadError(what, programContext(program), text === undefined ? { cause } : { cause, hint: text });
    }
    throw cause;
  }
}
