import type { BpfProgram } from '../programs/bpfProgram.js';
import type { Cleanup } from '../cleanup.js';
import { LoadError } from '../errors.js';
import { programContext, type Attachment } from './attachment.js';
import { attachKprobe, attachRawTracepoint, attachTracepoint } from './tracing.js';
import { attachBtfProgram, isBtfLinked } from './btfLinks.js';

/**
 * What bpf_load.c attached by itself, from the section name: tracepoints, raw
 * tracepoints and kprobes (the latter fail clearly where the kernel has none).
 * Tail-call slots (`kprobe/3`) are not attached. Socket, XDP and cgroup
 * programs need a target only the caller knows, so they are left alone.
 */
export function attachFromSection(program: BpfProgram, file?: string): Attachment | undefined {
  if (isBtfLinked(program)) return attachBtfProgram(program);
  if (program.tailCallIndex !== undefined || program.attachTarget === undefined) return undefined;
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
