import koffi from 'koffi';

/**
 * The only place that calls into libc. bpf(2) goes through one choke point,
 * sysBpf(), that tests can replace to inject faults (aya's override_syscall).
 */

const NR_BPF: Partial<Record<string, number>> = { x64: 321, arm64: 280, riscv64: 280, loong64: 280, ia32: 357, arm: 386, s390x: 351, ppc64: 361 };

/** The C library, loaded once for every binding in syscall/. */
export const libc = koffi.load('libc.so.6');
// glibc's syscall() is variadic, but a fixed prototype is both correct on the
// 64-bit ABIs (all arguments are integer registers) and ~25% cheaper per call.
const rawSyscall = libc.func('long syscall(long nr, long cmd, void *attr, unsigned long size)');
const rawFcntl = libc.func('int fcntl(int fd, int cmd, int arg)');
const rawIoctl = libc.func('int ioctl(int fd, unsigned long request, unsigned long arg)');
const rawPerfEventOpen = libc.func('long syscall(long nr, void *attr, int pid, int cpu, int group_fd, unsigned long flags)');
const rawSetsockopt = libc.func('int setsockopt(int fd, int level, int name, void *value, unsigned int len)');

export const ATTR_SIZE = 160;

/**
 * Attr memory allocated once outside the JS heap: its address never moves, so
 * hot paths write fields into `attr` and pass a precomputed pointer.
 */
const attrPointer = koffi.alloc('uint8_t', ATTR_SIZE);
export const attr: Buffer = Buffer.from(koffi.view(attrPointer, ATTR_SIZE));

/** Returns the result (>= 0) or -errno. */
export type BpfSyscall = (cmd: number, attr: Buffer, size: number) => number;

const NR = NR_BPF[process.arch] ?? -1;
/** What a system call this table has no number for answers: as if the kernel lacked it. */
const ENOSYS = 38;

export const realBpf: BpfSyscall = (cmd, attrBuffer, size) => {
  if (NR < 0) return -ENOSYS;
  const ret = Number(rawSyscall(NR, cmd, attrBuffer === attr ? attrPointer : attrBuffer, size));
  return ret < 0 ? -koffi.errno() : ret;
};

let current: BpfSyscall = realBpf;

export function sysBpf(cmd: number, attrBuffer: Buffer, size: number): number {
  return current(cmd, attrBuffer, size);
}

/**
 * sysBpf(cmd, attr, size) for the map element hot path: one branch and the
 * koffi call, nothing else. Still goes through any overrideBpfSyscall fake.
 */
export function sysBpfAttr(cmd: number, size: number): number {
  if (current !== realBpf || NR < 0) return current(cmd, attr, size);
  const ret = rawSyscall(NR, cmd, attrPointer, size) as number;
  return ret < 0 ? -koffi.errno() : ret;
}

/**
 * Replace bpf(2) for fault injection in tests; the replacement gets the real
 * call to delegate to. Returns a function that restores the previous one.
 */
export function overrideBpfSyscall(fake: (cmd: number, attr: Buffer, size: number, real: BpfSyscall) => number): () => void {
  const previous = current;
  current = (cmd, a, size) => fake(cmd, a, size, previous);
  return () => {
    current = previous;
  };
}

/** Native memory at a fixed address, for buffers the kernel reads or writes on a hot path. */
export interface NativeMemory {
  readonly address: bigint;
  readonly bytes: Buffer;
  free(): void;
}

/** Zeroed native memory outside the JS heap; free() it once nothing will touch `bytes` again. */
export function nativeAlloc(size: number): NativeMemory {
  const pointer = koffi.alloc('uint8_t', size);
  const bytes = Buffer.from(koffi.view(pointer, size));
  bytes.fill(0);
  let freed = false;
  return {
    address: koffi.address(pointer),
    bytes,
    free: () => {
      if (freed) return;
      freed = true;
      koffi.free(pointer);
    },
  };
}

/** Address of memory a pointer field in an attr may refer to. */
export function addressOf(buffer: Uint8Array): bigint {
  return koffi.address(buffer);
}

const rawClose = libc.func('int close(int fd)');

/**
 * close(2) through libc rather than fs.closeSync: Node warns when a worker
 * thread closes an fd it did not open itself. Returns 0 or -errno.
 */
export function closeFd(fd: number): number {
  const ret = rawClose(fd) as number;
  return ret < 0 ? -koffi.errno() : 0;
}

const F_DUPFD_CLOEXEC = 1030;

/** Duplicate fd onto the lowest free number >= minimum; returns -errno on failure. */
export function dupFdAtLeast(fd: number, minimum: number): number {
  const ret = rawFcntl(fd, F_DUPFD_CLOEXEC, minimum) as number;
  return ret < 0 ? -koffi.errno() : ret;
}

export function ioctl(fd: number, request: number, arg: number): number {
  const ret = rawIoctl(fd, request, arg) as number;
  return ret < 0 ? -koffi.errno() : ret;
}

const NR_PERF_EVENT_OPEN: Partial<Record<string, number>> = { x64: 298, arm64: 241, riscv64: 241, loong64: 241 };

export function perfEventOpen(perfAttr: Buffer, pid: number, cpu: number, groupFd: number, flags: number): number {
  const nr = NR_PERF_EVENT_OPEN[process.arch];
  if (nr === undefined) return -ENOSYS;
  const ret = Number(rawPerfEventOpen(nr, perfAttr, pid, cpu, groupFd, flags));
  return ret < 0 ? -koffi.errno() : ret;
}

export function setsockopt(fd: number, level: number, name: number, value: Buffer): number {
  const ret = rawSetsockopt(fd, level, name, value, value.byteLength) as number;
  return ret < 0 ? -koffi.errno() : ret;
}
