import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import { F_DUPFD_CLOEXEC, NR_BPF } from '../uapi/libc.js';
import type Koffi from 'koffi';

/**
 * The only place that binds libc functions (libcFunctions(), which the other
 * modules declare theirs with). bpf(2) goes through one choke point,
 * sysBpf(), that tests can replace to inject faults (aya's override_syscall).
 * koffi and libc are loaded on the first call that needs them: what makes no
 * system call (parsing an object, the CLI's --dry-run and --help) never pays
 * for loading them.
 */


export const ATTR_SIZE = 160;

/**
 * Attr memory with an address that never moves (an ArrayBuffer's own backing
 * store, outside the JS heap): hot paths write fields into `attr` and pass
 * its address, computed once.
 */
export const attr: Buffer = Buffer.from(new ArrayBuffer(ATTR_SIZE));

interface Native {
  koffi: typeof Koffi;
  library: ReturnType<typeof Koffi.load>;
}

let loaded: Native | undefined;

function native(): Native {
  if (loaded) return loaded;
  const koffi = createRequire(import.meta.url)('koffi') as typeof Koffi;
  loaded = { koffi, library: koffi.load('libc.so.6') };
  return loaded;
}

/** A libc function: called directly, or with `.async(...args, callback)` on koffi's worker pool. */
export interface LibcFunction {
  (...args: unknown[]): unknown;
  /**
   * The call made on a worker thread, which it blocks instead of the event
   * loop; `callback(error, result)` runs on the loop.
   */
  async(...args: unknown[]): void;
}

/**
 * The libc functions of `prototypes` (koffi's C syntax, under the names the
 * caller uses), each bound on first use: binding one costs tens of
 * microseconds, so what a run never calls is never bound. Each entry is a
 * getter that hands out the bound function itself, never a wrapper around it:
 * a call site then only ever sees koffi's function, which V8 calls directly
 * (a wrapper first, then the real function, would leave it a generic call),
 * and the getter inlines. The bpf(2) hot path goes through this table too.
 */
export function libcFunctions<const T extends Record<string, string>>(prototypes: T): { readonly [K in keyof T]: LibcFunction } {
  const table = {};
  for (const [name, prototype] of Object.entries(prototypes)) {
    let bound: LibcFunction | undefined;
    Object.defineProperty(table, name, { get: () => (bound ??= native().library.func(prototype) as LibcFunction), enumerable: true });
  }
  return table as { readonly [K in keyof T]: LibcFunction };
}

const libc = libcFunctions({
  // glibc's syscall() is variadic, but a fixed prototype is both correct on the
  // 64-bit ABIs (all arguments are integer registers) and ~25% cheaper per call.
  syscall: 'long syscall(long nr, long cmd, void *attr, unsigned long size)',
  // the same syscall(), the attr given by address: no pointer conversion on the hot path
  syscallAt: 'long syscall(long nr, long cmd, unsigned long attr, unsigned long size)',
  fcntl: 'int fcntl(int fd, int cmd, int arg)',
  ioctl: 'int ioctl(int fd, unsigned long request, unsigned long arg)',
  perfEventOpen: 'long syscall(long nr, void *attr, int pid, int cpu, int group_fd, unsigned long flags)',
  setsockopt: 'int setsockopt(int fd, int level, int name, void *value, unsigned int len)',
  close: 'int close(int fd)',
});

/** The address of `attr`: 0 until the first call that passes it. */
let attrAddress = 0;

function attrAddressNow(): number {
  attrAddress = Number(native().koffi.address(attr));
  return attrAddress;
}

/** koffi itself, loaded on first use, for native memory (alloc, view, address) outside the attr. */
export function koffiModule(): typeof Koffi {
  return native().koffi;
}

/** errno of the last libc call made through koffi. */
export function lastErrno(): number {
  return native().koffi.errno();
}

/** Returns the result (>= 0) or -errno. */
export type BpfSyscall = (cmd: number, attr: Buffer, size: number) => number;

const NR = NR_BPF[process.arch] ?? -1;
/** What a system call this table has no number for answers: as if the kernel lacked it. */
const ENOSYS = osConstants.errno.ENOSYS;

export const realBpf: BpfSyscall = (cmd, attrBuffer, size) => {
  if (NR < 0) return -ENOSYS;
  const ret = Number(attrBuffer === attr ? libc.syscallAt(NR, cmd, attrAddress || attrAddressNow(), size) : libc.syscall(NR, cmd, attrBuffer, size));
  return ret < 0 ? -lastErrno() : ret;
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
  const ret = libc.syscallAt(NR, cmd, attrAddress || attrAddressNow(), size) as number;
  return ret < 0 ? -lastErrno() : ret;
}

/**
 * Replace bpf(2) for fault injection in tests; the replacement gets the real
 * call to delegate to. Returns a function that restores the previous one.
 */
export function overrideBpfSyscall(fake: (cmd: number, attr: Buffer, size: number, real: BpfSyscall) => number): () => void {
  const previous = current;
  current = (cmd, a, size) => fake(cmd, a, size, previous);
  generation++;
  return () => {
    current = previous;
    generation++;
  };
}

let generation = 0;

/** Changes whenever bpf(2) is replaced or restored: what was learnt from the kernel before is stale. */
export function bpfSyscallGeneration(): number {
  return generation;
}

/** Native memory at a fixed address, for buffers the kernel reads or writes on a hot path. */
export interface NativeMemory {
  readonly address: bigint;
  readonly bytes: Buffer;
  free(): void;
}

/** Zeroed native memory outside the JS heap; free() it once nothing will touch `bytes` again. */
export function nativeAlloc(size: number): NativeMemory {
  const { koffi } = native();
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
  return (loaded ?? native()).koffi.address(buffer);
}

/** The two 32-bit halves of an address, as numbers, for writes into the attr's 32-bit words. */
export function addressHalves(address: bigint): [number, number] {
  return [Number(address & 0xffffffffn), Number(address >> 32n)];
}

/**
 * close(2) through libc rather than fs.closeSync: Node warns when a worker
 * thread closes an fd it did not open itself. Returns 0 or -errno.
 */
export function closeFd(fd: number): number {
  const ret = libc.close(fd) as number;
  return ret < 0 ? -lastErrno() : 0;
}

/** Duplicate fd onto the lowest free number >= minimum; returns -errno on failure. */
export function dupFdAtLeast(fd: number, minimum: number): number {
  const ret = libc.fcntl(fd, F_DUPFD_CLOEXEC, minimum) as number;
  return ret < 0 ? -lastErrno() : ret;
}

export function ioctl(fd: number, request: number, arg: number): number {
  const ret = libc.ioctl(fd, request, arg) as number;
  return ret < 0 ? -lastErrno() : ret;
}

const NR_PERF_EVENT_OPEN: Partial<Record<string, number>> = { x64: 298, arm64: 241, riscv64: 241, loong64: 241 };

export function perfEventOpen(perfAttr: Buffer, pid: number, cpu: number, groupFd: number, flags: number): number {
  const nr = NR_PERF_EVENT_OPEN[process.arch];
  if (nr === undefined) return -ENOSYS;
  const ret = Number(libc.perfEventOpen(nr, perfAttr, pid, cpu, groupFd, flags));
  return ret < 0 ? -lastErrno() : ret;
}

export function setsockopt(fd: number, level: number, name: number, value: Buffer): number {
  const ret = libc.setsockopt(fd, level, name, value, value.byteLength) as number;
  return ret < 0 ? -lastErrno() : ret;
}
