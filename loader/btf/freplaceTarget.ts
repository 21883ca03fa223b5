// The target of an freplace (BPF_PROG_TYPE_EXT) program: a loaded program, given by the caller
// (an open program, its fd, a pin, or its id), and the global function of that program's BTF
// the extension stands in for, found as libbpf's libbpf_find_prog_btf_id finds it: the program's
// info gives its BTF object's id, whose bytes are parsed here and searched for a FUNC by name.

import { parseBtf, type Btf } from '../../elf/btf/index.js';
import type { ProgramSpec } from '../../elf/index.js';
import {
  BPF_PROG_TYPE, BpfFd, btfGetData, btfGetFdById, errno, objGet, progGetFdById, progGetInfo, progTypeName, SyscallError,
} from '../../syscall/index.js';
import type { ProgramLoadFds } from './moduleFds.js';
import { LoadError, type LoadErrorContext } from '../errors.js';
import type { FreplaceTarget } from '../options.js';
import { BTF_FUNC_STATIC } from '../../uapi/btf.js';


/** What a target option says, for messages: `pin /sys/fs/bpf/x`, `program id 42`, `program fd 7`. */
export function describeFreplaceTarget(target: FreplaceTarget): string {
  if (typeof target === 'string') return `pin ${target}`;
  if (typeof target === 'number') return `program fd ${target}`;
  if ('fd' in target) return `program fd ${target.fd}`;
  return `program id ${target.id}`;
}

/** The target's fd: one the caller holds (an open program, an fd) or one opened here and held by `fds` until the load ends. */
function openTarget(target: FreplaceTarget, fds: ProgramLoadFds, context: LoadErrorContext): number {
  const what = describeFreplaceTarget(target);
  try {
    if (typeof target === 'number') return target;
    if (typeof target === 'object' && 'fd' in target) return target.fd;
    const fd: BpfFd = typeof target === 'string' ? objGet(target) : progGetFdById(target.id);
    return fds.hold(fd);
  } catch (error) {
    const missing = error instanceof SyscallError && error.errno === errno.ENOENT;
    throw new LoadError(`cannot open the freplace target (${what})`, context, {
      cause: error, ...(missing ? { code: 'BPF_LOAD_ARGUMENT' as const, hint: typeof target === 'string' ? 'no pin at that path' : 'no program has that id' } : {}),
    });
  }
}

/**
 * BPF_PROG_LOAD's attach_prog_fd and attach_btf_id of freplace program `program`: its target
 * (`targets` by program name, else by section name) resolved by resolveFreplaceTarget. A
 * LoadError before any load when no target was given.
 */
export function freplaceTargetAttrs(
  program: ProgramSpec, func: string, targets: ReadonlyMap<string, FreplaceTarget> | undefined, fds: ProgramLoadFds, context: LoadErrorContext,
): { attach_prog_fd: number; attach_btf_id: number } {
  if (func === '') {
    throw new LoadError(`sec '${program.section}' names no function to replace`, context, { code: 'BPF_LOAD_INPUT' });
  }
  const target = targets?.get(program.name) ?? targets?.get(program.section);
  if (target === undefined) throw noFreplaceTarget(program, func, context);
  const { fd, btfId } = resolveFreplaceTarget(target, func, fds, context);
  return { attach_prog_fd: fd, attach_btf_id: btfId };
}

/** The error for an freplace program loaded without a target (BPF_LOAD_ARGUMENT), saying how to give one. */
export function noFreplaceTarget(program: Pick<ProgramSpec, 'name'>, func: string, context: LoadErrorContext): LoadError {
  return new LoadError(`an freplace program replaces '${func}' of another loaded program, and no target program was given for it`, context, {
    code: 'BPF_LOAD_ARGUMENT',
    hint: `give it: options.programs.freplaceTargets = { ${program.name}: <BpfProgram | fd | pin path | { id }> }, or --freplace-target ${program.name}=PIN|id:N`,
  });
}

/**
 * A loaded program and the id of its function `func` in its BTF, as an extension names them to
 * the kernel (to load, or to link to another target): the target's fd (held by `fds` when opened
 * here) and the id. LoadErrors: a target that cannot be opened or is no program, an extension,
 * a program without BTF, no such function, or only a static one (the kernel cannot replace it).
 */
export function resolveFreplaceTarget(target: FreplaceTarget, func: string, fds: ProgramLoadFds, context: LoadErrorContext): { fd: number; btfId: number } {
  const what = describeFreplaceTarget(target);
  const targetFd = openTarget(target, fds, context);
  const fail = (message: string, code: 'BPF_LOAD_INPUT' | 'BPF_LOAD_ARGUMENT' = 'BPF_LOAD_INPUT', cause?: unknown): never => {
    throw new LoadError(`freplace target (${what}): ${message}`, context, { code, ...(cause !== undefined ? { cause } : {}) });
  };
  let info;
  try {
    info = progGetInfo(targetFd);
  } catch (error) {
    return fail('it is not a BPF program', 'BPF_LOAD_ARGUMENT', error);
  }
  const named = `program '${info.name}' (id ${info.id}, ${progTypeName(info.type)})`;
  if (info.type === BPF_PROG_TYPE.EXT) fail(`${named} is itself an extension: extend the program it extends`);
  if (info.btf_id === 0) fail(`${named} has no BTF, and an extension needs its functions' BTF (build it with clang -g)`);
  const btf = programBtf(info.btf_id, named, context);
  const ids = btf.byName(func).filter((id) => btf.kindOf(id) === 'FUNC');
  if (ids.length === 0) fail(`${named} has no function '${func}' in its BTF`);
  if (ids.length > 1) fail(`${named} has ${ids.length} functions named '${func}' in its BTF (ids ${ids.join(', ')})`);
  const id = ids[0]!;
  const type = btf.type(id);
  if (type.kind === 'FUNC' && type.linkage === BTF_FUNC_STATIC) {
    fail(`'${func}' of ${named} is static, and the kernel replaces only global functions (declare it without static, __noinline)`);
  }
  return { fd: targetFd, btfId: id };
}

/** A program's BTF object (BTF_GET_FD_BY_ID, then its bytes), parsed on its own (a program's BTF is not split). */
function programBtf(btfId: number, named: string, context: LoadErrorContext): Btf {
  let fd: BpfFd | undefined;
  try {
    fd = btfGetFdById(btfId);
    return parseBtf(btfGetData(fd.fd), { file: `BTF [${btfId}] of ${named}` });
  } catch (error) {
    if (error instanceof LoadError) throw error;
    throw new LoadError(`cannot read the BTF (id ${btfId}) of the freplace target ${named}`, context, { cause: error });
  } finally {
    fd?.close();
  }
}
