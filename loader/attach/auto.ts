import type { BpfProgram } from '../programs/bpfProgram.js';
import type { Cleanup } from '../cleanup.js';
import { LoadError } from '../errors.js';
import { BPF_PROG_TYPE } from '../../syscall/index.js';
import { sectionDefinition, type AttachTarget } from '../../elf/sectionNames.js';
import { programContext, type Attachment } from './attachment.js';
import { attachRawTracepoint, attachTracepoint } from './tracing.js';
import { attachKprobe, attachKprobeMulti, attachKsyscall } from './kprobe.js';
import { attachUprobe, attachUprobeMulti } from './uprobe.js';
import { attachUsdt } from './usdt.js';
import { attachBtfProgram, isBtfLinked } from './btfLinks.js';

/**
 * What bpf_load.c attached by itself, from the section name: tracepoints, raw
 * tracepoints and kprobes (the latter fail clearly where the kernel has none);
 * and what libbpf attaches by a libbpf-style section name: uprobes
 * (`uprobe/BINARY:FUNCTION[+OFFSET]`), uprobe.multi, USDT, kprobe.multi, ksyscall,
 * and the BTF-targeted kinds. Tail-call slots (`kprobe/3`) are not attached.
 * Socket, XDP and cgroup programs need a target only the caller knows, so
 * they are left alone, as are probes whose section names no target (`uprobe`).
 */
export function attachFromSection(program: BpfProgram, file?: string): Attachment | undefined {
  if (isBtfLinked(program)) return attachBtfProgram(program);
  if (program.tailCallIndex !== undefined) return undefined;
  if (program.type === BPF_PROG_TYPE.KPROBE) {
    const target = sectionDefinition(program.section)?.target;
    // a name libbpf would refuse that bpf_load.c took whole (`kprobe/NAME` of a samples object): as bpf_load.c did
    const legacyName = target?.kind === 'invalid' && (program.kind === 'kprobe' || program.kind === 'kretprobe');
    if (target && !legacyName) return attachProbe(program, target, file);
  }
  if (program.attachTarget === undefined) return undefined;
  const target = program.attachTarget;
  switch (program.kind) {
    case 'tracepoint': {
      const slash = target.indexOf('/');
      if (slash <= 0) {
        throw new LoadError(`section name should be tracepoint/CATEGORY/NAME`, {
          ...programContext(program), ...(file ? { file } : {}),
        });
      }
      return attachTracepoint(program, target.slice(0, slash), target.slice(slash + 1));
    }
    case 'raw_tracepoint':
      return attachRawTracepoint(program, target);
    case 'kprobe':
      return attachKprobe(program, target);
    case 'kretprobe':
      return attachKprobe(program, target, { retprobe: true });
    default:
      return undefined;
  }
}

/** A kprobe-type program by what its section name says, as libbpf's attach functions read it. */
function attachProbe(program: BpfProgram, target: AttachTarget, file: string | undefined): Attachment | undefined {
  switch (target.kind) {
    case 'kprobe':
      return attachKprobe(program, target.function, { retprobe: target.retprobe, ...(target.offset ? { offset: target.offset } : {}) });
    case 'ksyscall':
      return attachKsyscall(program, target.syscall, { retprobe: target.retprobe });
    case 'kprobe_multi':
      return attachKprobeMulti(program, { pattern: target.pattern, retprobe: target.retprobe });
    case 'uprobe':
      return attachUprobe(program, {
        binary: target.binary, function: target.function, retprobe: target.retprobe, ...(target.offset ? { offset: target.offset } : {}),
      });
    case 'uprobe_multi':
      return attachUprobeMulti(program, { binary: target.binary, pattern: target.pattern, retprobe: target.retprobe });
    case 'usdt':
      return attachUsdt(program, { binary: target.binary, provider: target.provider, name: target.name });
    case 'invalid':
      throw new LoadError(`cannot attach by the section name: ${target.reason}`, { ...programContext(program), ...(file ? { file } : {}) }, {
        code: 'BPF_LOAD_INPUT',
      });
    default:
      return undefined;
  }
}

/** options.attach: attach every program the section name says how to; a failure undoes them all via `cleanup`. */
export function attachAutomatic(programs: readonly BpfProgram[], cleanup: Cleanup, file?: string): Attachment[] {
  const attachments: Attachment[] = [];
  for (const program of programs) {
    const attachment = attachFromSection(program, file);
    if (!attachment) continue;
    cleanup.add(() => attachment.close());
    attachments.push(attachment);
  }
  return attachments;
}
