import { errnoName, errno as E } from './errno.js';

/**
 * A system call that failed: which command, the errno and its name, and a
 * hint when the usual cause is something a user can change.
 */
export class SyscallError extends Error {
  readonly code: 'BPF_LOAD_SYSCALL' | 'BPF_LOAD_NOT_SUPPORTED' = 'BPF_LOAD_SYSCALL';
  readonly errnoName: string;
  readonly hint: string | undefined;

  constructor(
    readonly command: string,
    readonly errno: number,
    /** what the command was given, as the message says it: `(fd 5)`, a path */
    readonly detail?: string,
  ) {
    const name = errnoName(errno);
    const hint = hintFor(command, errno);
    super(`${command}${detail ? ` ${detail}` : ''}: ${name}${hint ? ` (${hint})` : ''}`);
    this.name = 'SyscallError';
    this.errnoName = name;
    this.hint = hint;
  }
}

function hintFor(command: string, errno: number): string | undefined {
  const creates = command === 'BPF_MAP_CREATE' || command === 'BPF_PROG_LOAD';
  switch (errno) {
    case E.EPERM:
      if (creates || command.startsWith('BPF_')) {
        return 'needs root or CAP_BPF (CAP_SYS_ADMIN before Linux 5.8); before 5.11 a low `ulimit -l` gives EPERM too';
      }
      return 'needs root or CAP_SYS_ADMIN / CAP_NET_ADMIN';
    case E.ENOSYS:
      return `this kernel has no such system call (CONFIG_BPF_SYSCALL, CONFIG_PERF_EVENTS), or bpf-load knows no number for it on ${process.arch}`;
    case E.ENOMEM:
      return creates ? 'out of memory, or the memlock limit (`ulimit -l`) on kernels before 5.11' : undefined;
    case E.ENOTSUPP:
    case E.EOPNOTSUPP:
      return 'not supported by this kernel for this object type';
    case E.EMFILE:
      return 'this process has too many open files: raise `ulimit -n`, or close the objects and maps no longer used';
    case E.ENFILE:
      return 'the system has too many open files (fs.file-max)';
    case E.ELOOP:
      return 'too many levels of symbolic links in the path (a link loop?)';
    default:
      return undefined;
  }
}

/**
 * A command the kernel refused because it lacks a feature, as a probe
 * confirmed: "this kernel has no ring buffer maps (needs Linux >= 5.8)"
 * instead of a bare EINVAL. Still a SyscallError (the command and the errno
 * it gave), with its own code.
 */
export class NotSupportedError extends SyscallError {
  override readonly code = 'BPF_LOAD_NOT_SUPPORTED';
  override readonly hint: string;

  constructor(
    command: string,
    errnoValue: number,
    /** what the kernel lacks, as the message says it: `ring buffer maps` */
    readonly feature: string,
    /** the first Linux release that has it: `5.8` */
    readonly minLinux: string,
    detail?: string,
  ) {
    super(command, errnoValue, detail);
    this.name = 'NotSupportedError';
    this.hint = `this kernel has no ${feature} (needs Linux >= ${minLinux})`;
    this.message = `${this.hint}: ${this.message}`;
  }
}

/**
 * A file descriptor used after its owner closed it: a bug in the caller's
 * lifetimes, but one of ours to report, so it carries a code.
 */
export class ClosedFdError extends Error {
  readonly code = 'BPF_LOAD_FD_CLOSED';

  constructor() {
    super('bpf-load: file descriptor used after close()');
    this.name = 'ClosedFdError';
  }
}
