import { SyscallError } from '../../syscall/index.js';
import type { BpfProgram } from '../bpfProgram.js';
import { LoadError, type LoadErrorContext } from '../errors.js';

/** A program to attach: a loaded BpfProgram, or a bare program fd the caller keeps owning. */
export type ProgramRef = BpfProgram | number;

export type AttachKind = 'socket' | 'xdp' | 'tracepoint' | 'raw_tracepoint' | 'kprobe' | 'cgroup';

/**
 * A program attached somewhere. close() detaches (idempotent); the program
 * itself stays loaded and belongs to whoever loaded it.
 */
export class Attachment {
  #detach: (() => void) | undefined;

  constructor(
    readonly kind: AttachKind,
    /** where: `lo`, `syscalls/sys_enter_getuid`, a cgroup path, `socket fd 12`… */
    readonly target: string,
    /** the program's name, or `fd N` */
    readonly program: string,
    detach: () => void,
  ) {
    this.#detach = detach;
  }

  get closed(): boolean {
    return this.#detach === undefined;
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

export function progFdOf(program: ProgramRef): number {
  return typeof program === 'number' ? program : program.fd;
}

export function programLabel(program: ProgramRef): string {
  return typeof program === 'number' ? `fd ${program}` : program.name;
}

export function programContext(program: ProgramRef, action: string): LoadErrorContext {
  if (typeof program === 'number') return { action };
  return { section: program.section, program: program.name, action };
}

/** Run a step; a SyscallError becomes a LoadError saying what was being attached where. */
export function attachStep<T>(
  program: ProgramRef,
  what: string,
  step: () => T,
  hint?: string | ((cause: SyscallError) => string | undefined),
): T {
  try {
    return step();
  } catch (cause) {
    if (cause instanceof SyscallError) {
      const text = typeof hint === 'function' ? hint(cause) : hint;
      throw new LoadError(what, programContext(program, what), text === undefined ? { cause } : { cause, hint: text });
    }
    throw cause;
  }
}
