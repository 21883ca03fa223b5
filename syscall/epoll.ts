import { BpfFd } from './fd.js';
import { SyscallError } from './errors.js';
import { koffiModule, lastErrno, libcFunctions } from './native.js';

/**
 * epoll and eventfd: the waiting primitive of the event readers. The wait
 * itself runs as a koffi asynchronous call on a worker thread, so it blocks
 * neither Node's event loop nor any CPU; an eventfd in the same set wakes it.
 */

const libc = libcFunctions({
  epollCreate1: 'int epoll_create1(int flags)',
  epollCtl: 'int epoll_ctl(int epfd, int op, int fd, void *event)',
  epollWait: 'int epoll_wait(int epfd, void *events, int maxevents, int timeout)',
  eventfd: 'int eventfd(unsigned int initval, int flags)',
  write: 'long write(int fd, void *buf, unsigned long count)',
  read: 'long read(int fd, _Out_ void *buf, unsigned long count)',
});

const EPOLL_CLOEXEC = 0o2000000;
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLLIN = 0x001;
export const EPOLLONESHOT = 1 << 30;
/** struct epoll_event is packed on x86-64 (u32 events, u64 data); naturally aligned elsewhere */
const EPOLL_EVENT_SIZE = process.arch === 'x64' ? 12 : 16;
const EPOLL_DATA_OFFSET = process.arch === 'x64' ? 4 : 8;

export function epollCreate(): BpfFd {
  const fd = libc.epollCreate1(EPOLL_CLOEXEC) as number;
  if (fd < 0) throw new SyscallError('epoll_create1', lastErrno());
  return new BpfFd(fd);
}

const event = Buffer.alloc(EPOLL_EVENT_SIZE);

/** epoll_ctl; `token` comes back with the fd's events from epollWaitAsync(). */
export function epollCtl(epfd: number, op: number, fd: number, events: number, token: number): void {
  event.writeUInt32LE(events >>> 0, 0);
  event.writeBigUInt64LE(BigInt(token >>> 0), EPOLL_DATA_OFFSET);
  const ret = libc.epollCtl(epfd, op, fd, event) as number;
  if (ret < 0) throw new SyscallError('epoll_ctl', lastErrno(), `(op ${op}, fd ${fd})`);
}

/** Native memory the kernel fills with epoll_events during an asynchronous wait. */
export class EpollEvents {
  readonly #pointer: unknown;
  readonly bytes: Buffer;
  #freed = false;

  constructor(readonly capacity: number) {
    this.#pointer = koffiModule().alloc('uint8_t', capacity * EPOLL_EVENT_SIZE);
    this.bytes = Buffer.from(koffiModule().view(this.#pointer, capacity * EPOLL_EVENT_SIZE));
  }

  get pointer(): unknown {
    return this.#pointer;
  }

  /** The i-th event the last wait returned: its token and events. */
  tokenAt(index: number): number {
    return this.bytes.readUInt32LE(index * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET);
  }

  /** Only once no wait is using it. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    koffiModule().free(this.#pointer);
  }
}

/**
 * epoll_wait(epfd, events, capacity, timeout) on a worker thread; `done` gets
 * the number of events (0 on timeout) or -1 when the wait failed (EINTR: wait
 * again). `events` must stay allocated until `done` ran.
 */
export function epollWaitAsync(epfd: number, events: EpollEvents, timeoutMs: number, done: (count: number) => void): void {
  libc.epollWait.async(epfd, events.pointer, events.capacity, timeoutMs, (error: unknown, count: number) => {
    done(error ? -1 : count);
  });
}

export function eventfdCreate(): BpfFd {
  const fd = libc.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) as number;
  if (fd < 0) throw new SyscallError('eventfd', lastErrno());
  return new BpfFd(fd);
}

const one = Buffer.alloc(8);
one.writeBigUInt64LE(1n);
const sink = Buffer.alloc(8);

/** Add 1 to the eventfd's counter: whoever waits on it wakes. */
export function eventfdSignal(fd: number): void {
  const ret = Number(libc.write(fd, one, 8));
  if (ret < 0) throw new SyscallError('write', lastErrno(), `(eventfd ${fd})`);
}

/** Reset the counter (nonblocking: EAGAIN when it was 0 already is fine). */
export function eventfdDrain(fd: number): void {
  libc.read(fd, sink, 8);
}
