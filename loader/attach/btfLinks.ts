// Programs loaded against a kernel BTF id (tp_btf, fentry/fexit/fmod_ret, lsm, iter) attach
// with a bpf_link of their expected attach type, as libbpf's bpf_program__attach_trace/_lsm/
// _iter do; an iterator's link gives, through BPF_ITER_CREATE, a file whose reads run it.
// An extension (freplace) attaches the same way to the program and function it was loaded
// against: the kernel kept them from the load, so the link names neither (target fd 0, target
// BTF id 0), and while the link is open the target runs the extension in place of that function.

import { read } from 'node:fs';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { BPF_ATTACH_TYPE, BPF_PROG_TYPE, errno, iterCreate, linkCreate, type BpfFd } from '../../syscall/index.js';
import { attachTypeName } from '../../uapi/names.js';
import type { BpfProgram } from '../programs/bpfProgram.js';
import { LoadError } from '../errors.js';
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

/**
 * BPF_LINK_CREATE of a tp_btf, fentry, fexit, fmod_ret, lsm, iter or freplace program, to the
 * target it was loaded for. close() detaches (an extension's target runs its own function again).
 */
export function attachBtfProgram(program: BpfProgram): Attachment {
  if (isExtension(program)) return attachExtension(program);
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
 * An extension's link (libbpf's bpf_program__attach_freplace without a target fd): the kernel
 * attaches it to the program and function of its BPF_PROG_LOAD, which it holds until this first
 * attachment; a second one would need the target again, so it is refused here with a clear error.
 */
function attachExtension(program: BpfProgram): Attachment {
  const target = `freplace/${program.attachTarget ?? '?'}`;
  const link = attachStep(program, `attach freplace program to ${program.attachTarget ?? 'its target'}`,
    () => linkCreate({ progFd: program.fd, target: 0, attachType: 0 }),
    (cause) => {
      if (cause.errno === errno.EINVAL) return 'the kernel holds an extension\'s target only until its first attachment: load the program again to attach it again';
      return cause.errno === errno.EPERM ? 'the kernel refuses this attachment here (lockdown or a security module)' : undefined;
    });
  return new Attachment('tracing', target, program.name, () => link.close(), link);
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
