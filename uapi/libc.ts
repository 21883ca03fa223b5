// The C library's and the kernel's numbers the boundary uses outside bpf(2): the bpf system call's
// number on each architecture, fcntl, signal masks, mmap, sysconf.

/** __NR_bpf by Node's process.arch */
export const NR_BPF: Partial<Record<string, number>> = { x64: 321, arm64: 280, riscv64: 280, loong64: 280, ia32: 357, arm: 386, s390x: 351, ppc64: 361 };

export const F_DUPFD_CLOEXEC = 1030;

/** pthread_sigmask's `how` */
export const SIG_BLOCK = 0;
export const SIG_SETMASK = 2;

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
/** (void *)-1, what mmap returns on failure */
export const MAP_FAILED = 0xffffffffffffffffn;
export const SC_PAGESIZE = 30;

/** statfs(2) f_type of the filesystems a bpffs path is most often mistaken for (linux/magic.h), for messages */
export const FS_MAGIC_NAMES: Readonly<Record<number, string>> = {
  0x62656572: 'sysfs',
  0x01021994: 'tmpfs',
  0xef53: 'ext4',
  0x794c7630: 'overlayfs',
  0x9fa0: 'proc',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
};
