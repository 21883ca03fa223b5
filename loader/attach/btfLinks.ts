// Programs loaded against a kernel BTF id (tp_btf, fentry/fexit/fmod_ret, lsm, iter) attach
// with a bpf_link of their expected attach type, as libbpf's bpf_program__attach_trace/_lsm/
// _iter do; an iterator's link gives, through BPF_ITER_CREATE, a file whose reads run it.
// An extension (freplace) attaches the same way to the program and function it was loaded
// against: the kernel kept them from the load, so the link names neither (target fd 0, target
// BTF id 0), and while the link is open the target runs the extension in place of that function;
// or, as libbpf's bpf_program__attach_freplace with a target fd, to a program named at attach
// time (target_fd and the function's id in that program's BTF), which also attaches it again.

import { read } from 'node:fs';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { BPF_ATTACH_TYPE, BPF_PROG_TYPE, errno, iterCreate, linkCreate, type BpfFd } from '../../syscall/index.js';
import { attachTypeName } from '../../uapi/names.js';
import type { BpfProgram } from '../programs/bpfProgram.js';
import { describeFreplaceTarget, resolveFreplaceTarget } from '../btf/freplaceTarget.js';
import { ProgramLoadFds } from '../btf/moduleFds.js';
import { LoadError } from '../errors.js';
import type { FreplaceTarget } from '../options.js';
import { Attachment, attachStep, programContext } from './attachment.js';

const A = BPF_ATTACH_TYPE;

const LINKED: ReadonlyMap<number, 'tracing' | 'lsm' | 'iter'> = new Map([
  [A.TRACE_RAW_TP, 'tracing'], [A.TRACE_FENTRY, 'tracing'], [A.TRACE_FEXIT, 'tracing'], [A.MODIFY_RETURN, 'tracing'],
  [A.LSM_MAC, 'lsm'], [A.TRACE_ITER, 'iter'],
]);

/** Whether `program` was loaded against a BTF id (the kernel's, or an freplace target's) and attaches with a link. */
export function isBtfLinked(program: BpfProgram): boolean {
  return isExtension(program) || (program.expectedAttachType !== undefined && LINKED.has(program.expectedAttachType));
}

function isExtension(program: BpfProgram): boolean {
  return program.type === BPF_PROG_TYPE.EXT;
}

/** The iterator links made here, for openIterator. */
const iteratorLinks = new WeakMap<Attachment, BpfFd>();

export interface BtfAttachOptions {
  /**
   * an freplace program: the loaded program to attach it to (an open program, its fd, a pin path
   * or `{ id }`), whose function of the same name it replaces; default: the one it was loaded for
   */
  freplaceTarget?: FreplaceTarget;
}

/**
 * BPF_LINK_CREATE of a tp_btf, fentry, fexit, fmod_ret, lsm, iter or freplace program, to the
 * target it was loaded for (an extension: or `options.freplaceTarget`). close() detaches (an
 * extension's target runs its own function again).
 */
export function attachBtfProgram(program: BpfProgram, options: BtfAttachOptions = {}): Attachment {
  if (options.freplaceTarget !== undefined && !isExtension(program)) {
    throw new LoadError(`attach program '${program.name}': options.freplaceTarget is for freplace programs only`, programContext(program), { code: 'BPF_LOAD_ARGUMENT' });
  }
  if (isExtension(program)) return attachExtension(program, options.freplaceTarget);
  const attachType = program.expectedAttachType;
  const kind = attachType === undefined ? undefined : LINKED.get(attachType);
  if (kind === undefined) {
    throw new LoadError(`attach program '${program.name}': it was not loaded against a kernel BTF id (tp_btf, fentry, fexit, fmod_ret, lsm, iter)`,
      programContext(program), { code: 'BPF_LOAD_ARGUMENT' });
  }
  const target = program.attachTarget ?? program.section;
  const what = `attach ${attachTypeName(attachType!)} program to ${target}`;
  const link = attachStep(program, what, () => linkCreate({ progFd: program.fd, target: 0, attachType: attachType! }),
    (cause) => (cause.errno === errno.EPERM ? 'the kernel refuses this attachment here (lockdown or a security module)' : undefined));
  const attachment = new Attachment(kind, target, program.name, () => link.close(), link);
  if (kind === 'iter') iteratorLinks.set(attachment, link);
  return attachment;
}

/**
 * An extension's link, as libbpf's bpf_program__attach_freplace makes it. Without a target the
 * kernel attaches it to the program and function of its BPF_PROG_LOAD, which it holds only until
 * this first attachment; with one, to that program's function of the same name (target_fd and
 * target_btf_id), which the kernel checks against the extension's prototype.
 */
function attachExtension(program: BpfProgram, target: FreplaceTarget | undefined): Attachment {
  const func = program.attachTarget ?? '';
  const context = programContext(program);
  const fds = new ProgramLoadFds();
  try {
    const named = target === undefined ? undefined : resolveFreplaceTarget(target, func, fds, context);
    const link = attachStep(program, `attach freplace program to ${func || 'its target'}${target === undefined ? '' : ` of ${describeFreplaceTarget(target)}`}`,
      () => linkCreate({ progFd: program.fd, target: named?.fd ?? 0, attachType: 0, ...(named ? { targetBtfId: named.btfId } : {}) }),
      (cause) => {
        if (cause.errno === errno.EINVAL && !named) {
          return "the kernel holds an extension's target only until its first attachment: name the target (options.freplaceTarget) to attach it again";
        }
        return cause.errno === errno.EPERM ? 'the kernel refuses this attachment here (lockdown or a security module)' : undefined;
      });
    return new Attachment('tracing', `freplace/${func}`, program.name, () => link.close(), link);
  } finally {
    fds.close();
  }
}

const readChunk = promisify(read);
const CHUNK = 64 * 1024;

/**
 * Run an attached iterator (BPF_ITER_CREATE): a stream of what the program writes with
 * bpf_seq_printf / bpf_seq_write, ending when the iteration does. Each call runs it afresh;
 * the iterator's fd is closed at the end of the stream or when it is destroyed.
 */
export function openIterator(attachment: Attachment): Readable {
  const link = iteratorLinks.get(attachment);
  if (!link || attachment.closed) {
    throw new LoadError(`open iterator: ${attachment.closed ? 'the attachment is closed' : `${attachment.program} is no iterator attachment`}`,
      { program: attachment.program }, { code: 'BPF_LOAD_ARGUMENT' });
  }
  const iter = attachStep(undefined, `create an iterator of ${attachment.program}`, () => iterCreate(link.fd));
  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        const buffer = Buffer.alloc(CHUNK);
        const { bytesRead } = await readChunk(iter.fd, buffer, 0, CHUNK, null);
        if (bytesRead === 0) return;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      iter.close();
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

/** An attached iterator run to its end: everything it wrote. */
export async function readIterator(attachment: Attachment): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of openIterator(attachment)) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}
