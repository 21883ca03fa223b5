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

import {
  EFD_CLOEXEC, EFD_NONBLOCK, EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, EPOLL_EVENT, EPOLLIN, EPOLLONESHOT,
} from '../uapi/sockets.js';
import { HOST_LITTLE_ENDIAN, StructCodec } from './structCodec.js';

export { EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, EPOLLIN, EPOLLONESHOT };

const epollEvent = new StructCodec(EPOLL_EVENT);
/** epoll_event.data as the token it carries: a u64 in the host's order, the token in its low 32 bits */
const DATA = EPOLL_EVENT.fields.data;

export function epollCreate(): BpfFd {
  const fd = libc.epollCreate1(EPOLL_CLOEXEC) as number;
  if (fd < 0) throw new SyscallError('epoll_create1', lastErrno());
  return new BpfFd(fd);
}

const event = Buffer.alloc(EPOLL_EVENT.size);
const data = new BigUint64Array(1);

/** epoll_ctl; `token` comes back with the fd's events from epollWaitAsync(). */
export function epollCtl(epfd: number, op: number, fd: number, events: number, token: number): void {
  data[0] = BigInt(token >>> 0);
  epollEvent.encode(event, { events, data: new Uint8Array(data.buffer) });
  const ret = libc.epollCtl(epfd, op, fd, event) as number;
  if (ret < 0) throw new SyscallError('epoll_ctl', lastErrno(), `(op ${op}, fd ${fd})`);
}

/** Native memory the kernel fills with epoll_events during an asynchronous wait. */
export class EpollEvents {
  readonly #pointer: unknown;
  readonly bytes: Buffer;
  readonly #view: DataView;
  #freed = false;

  constructor(readonly capacity: number) {
    this.#pointer = koffiModule().alloc('uint8_t', capacity * EPOLL_EVENT.size);
    this.bytes = Buffer.from(koffiModule().view(this.#pointer, capacity * EPOLL_EVENT.size));
    this.#view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  get pointer(): unknown {
    return this.#pointer;
  }

  /** The i-th event the last wait returned: its token and events. */
  tokenAt(index: number): number {
    // the low half of the u64: first in little-endian memory, second in big-endian
    return this.#view.getUint32(index * EPOLL_EVENT.size + DATA.offset + (HOST_LITTLE_ENDIAN ? 0 : 4), HOST_LITTLE_ENDIAN);
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

// the eventfd counter is a u64 in the host's order
const one = Buffer.from(new BigUint64Array([1n]).buffer);
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
