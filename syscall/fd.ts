import { readlinkSync } from 'node:fs';
import { closeFd, dupFdAtLeast } from './native.js';
import { ClosedFdError, SyscallError } from './errors.js';
import { errno } from './errno.js';

const live = new Map<BpfFd, string | undefined>();
const traceStacks = process.env['BPF_LOAD_TRACE_FDS'] === '1';

/**
 * One open file descriptor and its single owner. close() is idempotent, so a
 * cleanup path can close everything it might own without bookkeeping.
 */
export class BpfFd {
  #fd: number;

  /** Takes ownership of `fd`. fds 0-2 are moved up: 0 means "no fd" in the bpf uapi. */
  constructor(fd: number) {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`not a file descriptor: ${fd}`);
    if (fd < 3) {
      const moved = dupFdAtLeast(fd, 3);
      closeFd(fd);
      if (moved < 0) throw new SyscallError('fcntl(F_DUPFD_CLOEXEC)', -moved);
      fd = moved;
    }
    this.#fd = fd;
    live.set(this, traceStacks ? new Error('fd opened here').stack : undefined);
  }

  /** An owned duplicate of an fd that stays with whoever handed it in. */
  static dup(fd: number): BpfFd {
    const copy = dupFdAtLeast(fd, 3);
    if (copy < 0) throw new SyscallError('fcntl(F_DUPFD_CLOEXEC)', -copy, `(fd ${fd})`);
    return new BpfFd(copy);
  }

  /** The number, valid until close(). */
  get fd(): number {
    if (this.#fd < 0) throw new ClosedFdError();
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    live.delete(this);
    const ret = closeFd(fd);
    // Linux releases the fd even when close() reports EINTR; anything else is an ownership bug
    if (ret < 0 && -ret !== errno.EINTR) throw new SyscallError('close', -ret, `(fd ${fd})`);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** How many BpfFd objects are open right now; tests compare it before and after. */
export function openBpfFdCount(): number {
  return live.size;
}

/** Open fds with their creation stacks (with BPF_LOAD_TRACE_FDS=1), for leak reports. */
export function openBpfFds(): { fd: number; stack: string | undefined }[] {
  return [...live].map(([owner, stack]) => ({ fd: owner.fd, stack }));
}

/**
 * What /proc says the fd is (`anon_inode:bpf-map`, `anon_inode:bpf-prog`…);
 * undefined without /proc. Every map fd, however obtained (create, BPF_OBJ_GET,
 * GET_FD_BY_ID), is an anon inode of the same name.
 */
export function fdKind(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}
