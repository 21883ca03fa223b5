import { constants, openSync } from 'node:fs';
import {
  BPF_CGROUP_ATTACH_TYPE, BPF_F_ALLOW_MULTI, BPF_PROG_TYPE, BpfFd, linkCreate, progAttach, progDetach,
} from '../../syscall/index.js';
import { LoadError, argumentError, checkOneOf, checkOptions, checkString } from '../errors.js';
import {
  Attachment, attachStep, checkProgramRef, detachProgram, progFdOf, programContext, programIdOf, programLabel, type ProgramRef,
} from './attachment.js';
import { findCgroup2 } from './cgroupMount.js';

export type CgroupAttachType = keyof typeof BPF_CGROUP_ATTACH_TYPE;

export interface CgroupOptions {
  /** which hook; default from the program: `cgroup/skb/egress` → inet_egress, `cgroup/skb[/ingress]` → inet_ingress, `cgroup/sock` → inet_sock_create, `sockops` → sock_ops */
  attachType?: CgroupAttachType;
  /** BPF_PROG_ATTACH flags, with via: 'legacy' only; default BPF_F_ALLOW_MULTI */
  flags?: number;
  /**
   * `link` (default): a bpf_link (Linux >= 5.7), which ends with its last fd
   * or pin, so also when this process dies; `legacy`: BPF_PROG_ATTACH, which
   * stays until BPF_PROG_DETACH or the cgroup is removed.
   */
  via?: 'link' | 'legacy';
}

const CGROUP_OPTIONS = ['attachType', 'flags', 'via'] as const;

/**
 * Attach to a cgroup v2 directory (wherever cgroup2 is mounted:
 * /sys/fs/cgroup, or /sys/fs/cgroup/unified in the hybrid layout) through a
 * bpf_link, or BPF_PROG_ATTACH with via: 'legacy'. close() detaches this
 * program and closes the directory.
 */
export function attachCgroup(program: ProgramRef, cgroupPath: string, options: CgroupOptions = {}): Attachment {
  const where = 'attachCgroup';
  checkProgramRef(program, where);
  checkString(cgroupPath, 'cgroupPath', where);
  checkOptions(options, CGROUP_OPTIONS, where);
  checkOneOf(options.attachType, Object.keys(BPF_CGROUP_ATTACH_TYPE) as CgroupAttachType[], 'options.attachType', where);
  checkOneOf(options.via, ['link', 'legacy'], 'options.via', where);
  const via = options.via ?? 'link';
  if (options.flags !== undefined) {
    if (via === 'link') throw argumentError(where, 'options.flags', "left out with via: 'link' (flags are BPF_PROG_ATTACH's)", options.flags);
    if (!Number.isInteger(options.flags) || options.flags < 0 || options.flags > 0xffffffff) {
      throw argumentError(where, 'options.flags', 'an unsigned 32-bit integer', options.flags);
    }
  }
  const attachType = options.attachType ?? defaultAttachType(program);
  const what = `attach to cgroup ${cgroupPath} (${attachType ?? '?'})`;
  if (attachType === undefined) {
    throw new LoadError(`${what}: say which hook: options.attachType (inet_ingress, inet_egress, inet_sock_create, sock_ops)`,
      programContext(program));
  }
  const progFd = progFdOf(program, what);
  let dir: BpfFd;
  try {
    dir = new BpfFd(openSync(cgroupPath, constants.O_RDONLY | constants.O_DIRECTORY));
  } catch (cause) {
    throw new LoadError(`${what}: cannot open the cgroup directory: ${(cause as NodeJS.ErrnoException).code ?? cause}`,
      programContext(program), { cause, hint: cgroupHint() });
  }
  const type = BPF_CGROUP_ATTACH_TYPE[attachType];
  const target = `${cgroupPath} (${attachType})`;
  if (via === 'link') {
    try {
      const link = attachStep(program, what, () => linkCreate({ progFd, target: dir.fd, attachType: type }),
        (cause) => (cause.code === 'BPF_LOAD_NOT_SUPPORTED' ? "attach with via: 'legacy'" : `${cgroupHint()} and the program of a matching type`));
      return new Attachment('cgroup', target, programLabel(program), () => link.close(), link);
    } finally {
      // the link holds the cgroup itself
      dir.close();
    }
  }
  let progId: number;
  try {
    progId = programIdOf(program, what);
    attachStep(program, what, () => progAttach(dir.fd, progFd, type, options.flags ?? BPF_F_ALLOW_MULTI),
      () => `${cgroupHint()} and the program of a matching type`);
  } catch (error) {
    dir.close();
    throw error;
  }
  return new Attachment('cgroup', target, programLabel(program), () => {
    try {
      detachProgram(program, progId, (fd) => progDetach(dir.fd, fd, type));
    } finally {
      dir.close();
    }
  });
}

function cgroupHint(): string {
  const mount = findCgroup2();
  return mount ? `the directory must be in the cgroup v2 hierarchy (mounted at ${mount} here)` : 'no cgroup v2 hierarchy is mounted (mount -t cgroup2 none DIR)';
}

function defaultAttachType(program: ProgramRef): CgroupAttachType | undefined {
  if (typeof program === 'number') return undefined;
  if (program.type === BPF_PROG_TYPE.CGROUP_SKB) {
    if (program.section.endsWith('egress')) return 'inet_egress';
    return 'inet_ingress';
  }
  if (program.type === BPF_PROG_TYPE.CGROUP_SOCK) return 'inet_sock_create';
  if (program.type === BPF_PROG_TYPE.SOCK_OPS) return 'sock_ops';
  return undefined;
}
