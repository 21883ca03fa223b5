// The kernel-internal errnos (include/linux/errno.h) that leak to user space from bpf(2) and that
// libc does not name; the others are libc's (node:os constants.errno).

export const ERESTARTSYS = 512;
/** the kernel's "not supported" for a known command on an object that cannot do it (not EOPNOTSUPP) */
export const ENOTSUPP = 524;
