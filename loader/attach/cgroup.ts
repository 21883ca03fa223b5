import { constants, openSync } from 'node:fs';
import { BPF_CGROUP_ATTACH_TYPE, BPF_F_ALLOW_MULTI, BPF_PROG_TYPE, BpfFd, progAttach, progDetach } from '../../syscall/index.js';
import { LoadError } from '../errors.js';
import {
  Attachment, attachStep, detachProgram, progFdOf, programContext, programIdOf, programLabel, type ProgramRef,
} from './attachment.js';

export type CgroupAttachType = keyof typeof BPF_CGROUP_ATTACH_TYPE;

export interface CgroupOptions {
  /** which hook; default from the program: `cgroup/skb/egress` → inet_egress, `cgroup/skb[/ingress]` → inet_ingress, `cgroup/sock` → inet_sock_create, `sockops` → sock_ops */
  attachType?: CgroupAttachType;
  /** BPF_PROG_ATTACH flags; default BPF_F_ALLOW_MULTI */
  flags?: number;
}

/**
 * BPF_PROG_ATTACH to a cgroup v2 directory (e.g. /sys/fs/cgroup/unified/x).
 * close() detaches this program (BPF_PROG_DETACH) and closes the directory.
 */
export function attachCgroup(program: ProgramRef, cgroupPath: string, options: CgroupOptions = {}): Attachment {
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
      programContext(program), { cause, hint: 'a cgroup v2 directory, e.g. under /sys/fs/cgroup/unified' });
  }
  const type = BPF_CGROUP_ATTACH_TYPE[attachType];
  let progId: number;
  try {
    progId = programIdOf(program, what);
    attachStep(program, what, () => progAttach(dir.fd, progFd, type, options.flags ?? BPF_F_ALLOW_MULTI),
      'the directory must be in a cgroup v2 hierarchy and the program of a matching type');
  } catch (error) {
    dir.close();
    throw error;
  }
  return new Attachment('cgroup', `${cgroupPath} (${attachType})`, programLabel(program), () => {
    try {
      detachProgram(program, progId, (fd) => progDetach(dir.fd, fd, type));
    } finally {
      dir.close();
    }
  });
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
