import { constants } from 'node:os';
import * as kernelErrno from '../uapi/errno.js';

/** Kernel-internal errnos that leak to user space from bpf(2) and that Node does not name. */
const KERNEL_ONLY: Record<number, string> = Object.fromEntries(Object.entries(kernelErrno).map(([name, value]) => [value, name]));

const NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  // several names share a number (EAGAIN/EWOULDBLOCK); keep the first, which is the common one
  if (!NAMES.has(value)) NAMES.set(value, name);
}
for (const [value, name] of Object.entries(KERNEL_ONLY)) NAMES.set(Number(value), name);
// where Linux has two names for one number, the one the kernel's sources and strace use
for (const name of ['EAGAIN', 'EOPNOTSUPP', 'EDEADLK'] as const) NAMES.set(constants.errno[name], name);

export function errnoName(errno: number): string {
  return NAMES.get(errno) ?? `errno ${errno}`;
}

export const errno = {
  EPERM: constants.errno.EPERM,
  ENOENT: constants.errno.ENOENT,
  ESRCH: constants.errno.ESRCH,
  EINTR: constants.errno.EINTR,
  EBADF: constants.errno.EBADF,
  EAGAIN: constants.errno.EAGAIN,
  ENOMEM: constants.errno.ENOMEM,
  EACCES: constants.errno.EACCES,
  EFAULT: constants.errno.EFAULT,
  EEXIST: constants.errno.EEXIST,
  ENOTDIR: constants.errno.ENOTDIR,
  EINVAL: constants.errno.EINVAL,
  ENOSPC: constants.errno.ENOSPC,
  E2BIG: constants.errno.E2BIG,
  ENOSYS: constants.errno.ENOSYS,
  EMFILE: constants.errno.EMFILE,
  ENFILE: constants.errno.ENFILE,
  ELOOP: constants.errno.ELOOP,
  EOPNOTSUPP: constants.errno.EOPNOTSUPP,
  ENODEV: constants.errno.ENODEV,
  ENAMETOOLONG: constants.errno.ENAMETOOLONG,
  ECONNREFUSED: constants.errno.ECONNREFUSED,
  ENOTSUPP: kernelErrno.ENOTSUPP,
} as const;
