// Programs that name a kernel BTF id to load: tp_btf (a `btf_trace_<name>` typedef), fentry,
// fexit, fmod_ret (the function itself), lsm (`bpf_lsm_<hook>`) and iter (`bpf_iter_<name>`),
// found by name in vmlinux's BTF (then the modules'), as libbpf's find_attach_btf_id does; and
// freplace (BPF_PROG_TYPE_EXT), whose target is a global function of another loaded program,
// named in that program's own BTF (libbpf's libbpf_find_prog_btf_id).

import type { ObjectSpec, ProgramSpec } from '../../elf/index.js';
import { BPF_ATTACH_TYPE, BPF_PROG_TYPE, SyscallError, errno, progTypeName } from '../../syscall/index.js';
import { attachTypeName } from '../../uapi/names.js';
import { kernelBtf, VMLINUX } from '../btf/kernelBtf.js';
import type { ProgramLoadFds } from '../btf/moduleFds.js';
import { LoadError } from '../errors.js';
import type { FreplaceTarget } from '../options.js';
import { freplaceTargetAttrs, noFreplaceTarget } from '../btf/freplaceTarget.js';

const A = BPF_ATTACH_TYPE;

/** How each attach type's target is named in the kernel's BTF. */
const TARGETS: ReadonlyMap<number, { prefix: string; kind: 'TYPEDEF' | 'FUNC'; what: string }> = new Map([
  [A.TRACE_RAW_TP, { prefix: 'btf_trace_', kind: 'TYPEDEF', what: 'BTF-enabled tracepoint' }],
  [A.TRACE_FENTRY, { prefix: '', kind: 'FUNC', what: 'kernel function' }],
  [A.TRACE_FEXIT, { prefix: '', kind: 'FUNC', what: 'kernel function' }],
  [A.MODIFY_RETURN, { prefix: '', kind: 'FUNC', what: 'kernel function' }],
  [A.LSM_MAC, { prefix: 'bpf_lsm_', kind: 'FUNC', what: 'LSM hook' }],
  [A.TRACE_ITER, { prefix: 'bpf_iter_', kind: 'FUNC', what: 'BPF iterator' }],
]);

type Named = Pick<ProgramSpec, 'section' | 'expectedAttachType' | 'type'>;

/** Whether the program is an extension (`freplace/FUNC`): its target is a function of another BPF program. */
export function isFreplace(program: Pick<ProgramSpec, 'type'>): boolean {
  return program.type === BPF_PROG_TYPE.EXT;
}

/**
 * The target a BTF program's section names (`tp_btf/sys_enter` → `sys_enter`); undefined for other programs:
 * an extension, or a type attached by BTF id, whose section has a `/`.
 */
export function btfTargetName(program: Named): string | undefined {
  const targeted = program.type === BPF_PROG_TYPE.EXT || (program.expectedAttachType !== undefined && TARGETS.has(program.expectedAttachType));
  if (!targeted) return undefined;
  const slash = program.section.indexOf('/');
  return slash < 0 ? undefined : program.section.slice(slash + 1);
}

/** Whether the program needs a BTF id (of the kernel, or of its target program for freplace) to load. */
export function needsBtfTarget(program: Named): boolean {
  return btfTargetName(program) !== undefined;
}

/**
 * Before any system call: every freplace program about to load has a target in
 * `freplaceTargets`, and each target names such a program (by name or section). LoadErrors
 * (BPF_LOAD_ARGUMENT) otherwise.
 */
export function checkFreplaceTargets(spec: ObjectSpec, programs: readonly ProgramSpec[], freplaceTargets: ReadonlyMap<string, FreplaceTarget>): void {
  // one pass with no call per program: nearly every load has no freplace program and no target
  const extensions: ProgramSpec[] = [];
  for (const program of programs) if (program.type === BPF_PROG_TYPE.EXT && program.section.includes('/')) extensions.push(program);
  if (extensions.length === 0 && freplaceTargets.size === 0) return;
  for (const program of extensions) {
    if (!freplaceTargets.has(program.name) && !freplaceTargets.has(program.section)) {
      throw noFreplaceTarget(program, btfTargetName(program)!, { file: spec.file, section: program.section, program: program.name });
    }
  }
  for (const name of freplaceTargets.keys()) {
    if (!extensions.some((p) => p.name === name || p.section === name)) {
      throw new LoadError(`programs.freplaceTargets names '${name}', which is no freplace program of this load ` +
        `(freplace programs: ${extensions.map((p) => p.name).join(', ') || 'none'})`, { file: spec.file }, { code: 'BPF_LOAD_ARGUMENT' });
    }
  }
}

export interface BtfTargetSettings {
  btfPath?: string | undefined;
  onWarning?: ((m: string) => void) | undefined;
  /** freplace programs' targets, by program name (or section name) */
  freplaceTargets?: ReadonlyMap<string, FreplaceTarget> | undefined;
}

/** BPF_PROG_LOAD's attach fields of a BTF program. */
export interface BtfTargetAttrs {
  attach_btf_id?: number;
  /** freplace: the target program; a kernel target in a module: the module's BTF object (attach_btf_obj_fd, the same field) */
  attach_prog_fd?: number;
}

/**
 * BPF_PROG_LOAD's attach_btf_id for a program that needs one ({} for the others): the kernel BTF
 * type its section names. A LoadError (BPF_LOAD_INPUT) when the kernel has no such type.
 */
export function btfTargetAttrs(spec: ObjectSpec, program: ProgramSpec, settings: BtfTargetSettings, fds: ProgramLoadFds): BtfTargetAttrs {
  const name = btfTargetName(program);
  if (name === undefined) return {};
  const context = { file: spec.file, section: program.section, program: program.name };
  if (isFreplace(program)) return freplaceTargetAttrs(program, name, settings.freplaceTargets, fds, context);
  const target = TARGETS.get(program.expectedAttachType!)!;
  if (name === '') {
    throw new LoadError(`sec '${program.section}' names no ${target.what} to attach to`, context, { code: 'BPF_LOAD_INPUT' });
  }
  const kernel = kernelBtf(settings.btfPath !== undefined ? { btfPath: settings.btfPath } : {});
  const full = target.prefix + name;
  const hit = kernel.findOne(full, target.kind, (module, error) =>
    settings.onWarning?.(`module '${module}': its BTF is skipped: ${error instanceof Error ? error.message : String(error)}`));
  if (!hit) {
    throw new LoadError(`the kernel has no ${target.what} '${name}' (no ${target.kind} '${full}' in its BTF)`, context, {
      code: 'BPF_LOAD_INPUT', hint: `check the name after '${program.section.slice(0, program.section.indexOf('/') + 1)}' in the section name`,
    });
  }
  if (hit.object !== VMLINUX) return { attach_btf_id: hit.id, attach_prog_fd: fds.moduleBtfFd(hit.object) };
  return { attach_btf_id: hit.id };
}

/**
 * What to say when the kernel refused a BTF program before the verifier ran (no log): the program
 * type and attach type refused, and the likely reason. undefined when the refusal was the verifier's.
 */
export function btfTargetRefusal(program: ProgramSpec, type: number, cause: SyscallError, log: string): string | undefined {
  if (!needsBtfTarget(program) || log.trim() !== '') return undefined;
  const attach = isFreplace(program) ? 'freplace' : attachTypeName(program.expectedAttachType!);
  const refused = `the kernel refused ${progTypeName(type)} programs (${attach}) before verification`;
  if (cause.errno === errno.EPERM) return `${refused}: EPERM (lockdown, a security module, or CAP_BPF/CAP_PERFMON/CAP_SYS_ADMIN missing)`;
  if (cause.errno === errno.ENOTSUPP || cause.errno === errno.EOPNOTSUPP) return `${refused}: this kernel cannot attach to that target`;
  return `${refused} (${cause.message})`;
}
