import { SyscallError } from './errors.js';
import { koffiModule, lastErrno, libcFunctions } from './native.js';
import { MAP_FAILED, MAP_SHARED, PROT_READ, PROT_WRITE, SC_PAGESIZE } from '../uapi/libc.js';

/**
 * Shared mappings of a kernel object's memory (a perf event's ring, a
 * BPF_MAP_TYPE_RINGBUF's pages). The mapping is exposed as an ArrayBuffer
 * over the native memory: it must not be touched after unmap().
 */

const libc = libcFunctions({
  mmap: 'void *mmap(void *addr, unsigned long length, int prot, int flags, int fd, long offset)',
  munmap: 'int munmap(void *addr, unsigned long length)',
  sysconf: 'long sysconf(int name)',
});

export { PROT_READ, PROT_WRITE };

let pageBytes: number | undefined;

/** The kernel's page size: rings are sized and offset in pages. */
export function pageSize(): number {
  pageBytes ??= Number(libc.sysconf(SC_PAGESIZE));
  return pageBytes;
}

export interface MappedRegion {
  readonly length: number;
  /** the mapped memory; invalid after unmap() */
  readonly memory: ArrayBuffer;
  readonly unmapped: boolean;
  unmap(): void;
}

/** mmap(NULL, length, prot, MAP_SHARED, fd, offset). */
export function mmapShared(fd: number, length: number, prot: number, offset: number, detail?: string): MappedRegion {
  const pointer: unknown = libc.mmap(null, length, prot, MAP_SHARED, fd, offset);
  if (pointer === null || koffiModule().address(pointer) === MAP_FAILED) {
    throw new SyscallError('mmap', lastErrno(), `(fd ${fd}, ${length} bytes at offset ${offset}${detail ? `, ${detail}` : ''})`);
  }
  const memory = koffiModule().view(pointer, length);
  let mapped = true;
  return {
    length,
    memory,
    get unmapped() {
      return !mapped;
    },
    unmap() {
      if (!mapped) return;
      mapped = false;
      const ret = libc.munmap(pointer, length) as number;
      if (ret < 0) throw new SyscallError('munmap', lastErrno(), `(${length} bytes of fd ${fd})`);
    },
  };
}
