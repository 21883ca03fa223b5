import {
  EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, EPOLLIN, EPOLLONESHOT, EpollEvents, epollCreate, epollCtl, epollWaitAsync,
  eventfdCreate, eventfdDrain, eventfdSignal, type BpfFd,
} from '../../syscall/index.js';
import { LoadError } from '../errors.js';

/**
 * Waiting for records without blocking Node's event loop and without
 * spinning. Node offers no way to have libuv watch an arbitrary fd (a perf
 * event or a ring buffer map is neither a socket nor a pipe), so one
 * epoll_wait at a time runs as a koffi asynchronous call on a worker thread,
 * for every reader of the process together: however many readers wait, one
 * worker thread is busy. An eventfd in the set wakes that wait when the last
 * waiting reader goes away. While the wait is pending it keeps the process
 * alive, which is what a reader with a pending read() should do.
 *
 * Each reader's fds are registered EPOLLONESHOT and re-armed only when the
 * reader found its rings empty and has a read pending: a ring that holds
 * records nobody asked for yet never wakes the worker again and again.
 */

/** One reader's side of the waiter. */
interface Watcher {
  /** one of its fds is readable (or the wait was cut short): look at the rings */
  ready(): void;
}

const WAKE_TOKEN = 0;
const EVENTS_PER_WAIT = 64;

class Waiter {
  readonly #epoll: BpfFd;
  readonly #wake: BpfFd;
  readonly #events = new EpollEvents(EVENTS_PER_WAIT);
  readonly #byToken = new Map<number, Watcher>();
  readonly #armed = new Set<Watcher>();
  /** tokens whose one-shot registration is enabled: not fired since it was last (re)armed */
  readonly #enabled = new Set<number>();
  #afterWait: (() => void)[] = [];
  #nextToken = WAKE_TOKEN + 1;
  #inFlight = false;
  #released = false;

  constructor(private readonly onIdle: () => void) {
    let epoll: BpfFd | undefined;
    try {
      epoll = epollCreate();
      this.#wake = eventfdCreate();
      epollCtl(epoll.fd, EPOLL_CTL_ADD, this.#wake.fd, EPOLLIN, WAKE_TOKEN);
    } catch (error) {
      epoll?.close();
      this.#events.free();
      throw error;
    }
    this.#epoll = epoll;
  }

  /** Watch `fd` for `watcher`; returns the token arm() and unwatch() take. Not armed yet. */
  watch(fd: number, watcher: Watcher): number {
    const token = this.#nextToken++;
    // one-shot from the start: an fd that is readable before anyone waits fires once, then stays quiet
    epollCtl(this.#epoll.fd, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLONESHOT, token);
    this.#byToken.set(token, watcher);
    this.#enabled.add(token);
    return token;
  }

  unwatch(fd: number, token: number): void {
    if (!this.#byToken.delete(token)) return;
    this.#enabled.delete(token);
    epollCtl(this.#epoll.fd, EPOLL_CTL_DEL, fd, 0, token);
  }

  /** Wake the watcher when one of these fds becomes readable; only the fds that fired since need re-enabling. */
  arm(watcher: Watcher, fds: readonly { fd: number; token: number }[]): void {
    for (const { fd, token } of fds) {
      if (this.#enabled.has(token)) continue;
      epollCtl(this.#epoll.fd, EPOLL_CTL_MOD, fd, EPOLLIN | EPOLLONESHOT, token);
      this.#enabled.add(token);
    }
    this.#armed.add(watcher);
    this.#wait();
  }

  /** The watcher no longer waits; a wait pending for nobody else returns now. */
  disarm(watcher: Watcher): void {
    if (!this.#armed.delete(watcher)) return;
    if (this.#armed.size === 0 && this.#inFlight) eventfdSignal(this.#wake.fd);
  }

  /**
   * Run `callback` once no wait is in flight: the worker thread no longer
   * touches the epoll set (and, once idle, its fds are closed).
   */
  whenSettled(callback: () => void): void {
    if (this.#inFlight) this.#afterWait.push(callback);
    else callback();
  }

  /** The process is exiting: a wait still blocked in epoll_wait must return, or Node waits for its worker forever. */
  wakeForExit(): void {
    if (this.#inFlight && !this.#released) eventfdSignal(this.#wake.fd);
  }

  /** Close the epoll set when nobody watches anything and no wait is pending. */
  releaseIfIdle(): void {
    if (this.#released || this.#byToken.size > 0 || this.#inFlight) return;
    this.#released = true;
    this.#epoll.close();
    this.#wake.close();
    this.#events.free();
    this.onIdle();
  }

  #wait(): void {
    if (this.#inFlight || this.#armed.size === 0) return;
    epollWaitAsync(this.#epoll.fd, this.#events, -1, (count) => this.#woken(count));
    // only once the call is queued: a refused one leaves no wait to wait for
    this.#inFlight = true;
  }

  #woken(count: number): void {
    this.#inFlight = false;
    const ready = new Set<Watcher>();
    for (let i = 0; i < count; i++) {
      const token = this.#events.tokenAt(i);
      if (token === WAKE_TOKEN) {
        eventfdDrain(this.#wake.fd);
        continue;
      }
      this.#enabled.delete(token);
      const watcher = this.#byToken.get(token);
      if (watcher && this.#armed.delete(watcher)) ready.add(watcher);
    }
    const after = this.#afterWait;
    this.#afterWait = [];
    // a watcher that still finds nothing re-arms itself from ready(), which starts the next wait
    for (const watcher of ready) watcher.ready();
    this.#wait();
    this.releaseIfIdle();
    for (const callback of after) callback();
  }
}

let shared: Waiter | undefined;
let exitHooked = false;

function waiter(): Waiter {
  if (!exitHooked) {
    // once per process, when the first reader opens: process.exit() and an uncaught exception both
    // emit 'exit' before Node joins its worker threads, and a wait still pending must return first
    process.on('exit', () => shared?.wakeForExit());
    exitHooked = true;
  }
  const current = shared ?? new Waiter(() => {
    if (shared === current) shared = undefined;
  });
  shared = current;
  return current;
}

/** Takes records out of a ring (or rings): what differs between the perf buffer and the ring buffer. */
export interface RingSource<R> {
  /** what the errors call it: `perf event array 'events'`… */
  readonly label: string;
  /** the fds that poll readable when records arrive */
  readonly fds: readonly number[];
  /** append at most `max` records to `out`, consuming them from the ring(s) */
  drain(out: R[], max: number): void;
  /** unmap, close and unregister what the source holds (the epoll set no longer watches its fds) */
  release(): void;
}

/** Records taken from the rings per refill of the queue read() serves from. */
const CHUNK = 256;
/**
 * When records came less than this long ago, the next wait starts this much
 * later: at high rates each wakeup then brings a batch (one wakeup per
 * record costs more than the record), at the price of at most this much
 * latency; at low rates nothing changes.
 */
const COALESCE_MS = 1;

/**
 * What both readers share: a bounded queue, read() / readBatch() that wait
 * when the rings are empty, readAvailable() that never waits, the async
 * iterator, and close().
 */
export class EventReader<R> implements AsyncIterable<R>, Disposable {
  readonly #source: RingSource<R>;
  readonly #waiter: Waiter;
  readonly #watched: { fd: number; token: number }[] = [];
  readonly #watcher: Watcher = { ready: () => this.#serve() };
  #queue: R[] = [];
  #head = 0;
  // a method, not a function-typed property: a reader of PerfRecord is then also a reader of { data: Buffer }
  #pending: { max: number; resolve(records: R[]): void; reject(error: unknown): void }[] = [];
  #closed = false;
  /** when records were last handed out (performance.now()) */
  #lastDelivery = Number.NEGATIVE_INFINITY;
  #coalescing: NodeJS.Timeout | undefined;

  /** Takes ownership of the source: on failure it is released. */
  constructor(source: RingSource<R>) {
    this.#source = source;
    let shared: Waiter | undefined;
    try {
      shared = waiter();
      for (const fd of source.fds) this.#watched.push({ fd, token: shared.watch(fd, this.#watcher) });
    } catch (error) {
      for (const { fd, token } of this.#watched) shared?.unwatch(fd, token);
      shared?.releaseIfIdle();
      source.release();
      throw error;
    }
    this.#waiter = shared;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The next record, waiting for one if none is there; undefined once the reader is closed. */
  read(): Promise<R | undefined> {
    if (this.#head < this.#queue.length) return Promise.resolve(this.#shift());
    return this.readBatch(1).then((records) => records[0]);
  }

  /**
   * At least one and at most `max` records, waiting for the first if none is
   * there; an empty array once the reader is closed. For throughput: one
   * promise for many records.
   */
  readBatch(max: number): Promise<R[]> {
    checkMax(max, this.#source.label);
    const records = this.#take(max);
    if (records.length > 0) this.#lastDelivery = performance.now();
    if (records.length > 0 || this.#closed) return Promise.resolve(records);
    return new Promise((resolve, reject) => {
      this.#pending.push({ max, resolve, reject });
      if (this.#pending.length > 1) return;
      try {
        this.#arm();
      } catch (error) {
        this.#pending = [];
        reject(error);
      }
    });
  }

  /** The records there are now, at most `max`, without waiting (empty when there are none). */
  readAvailable(max = Number.POSITIVE_INFINITY): R[] {
    if (max !== Number.POSITIVE_INFINITY) checkMax(max, this.#source.label);
    return this.#take(max);
  }

  /** readAvailable() of a `max` already checked. */
  #take(max: number): R[] {
    const out: R[] = [];
    if (this.#closed) return out;
    while (out.length < max) {
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
        // a big batch is filled from the rings directly; the queue serves small reads
        const room = max - out.length;
        if (room >= CHUNK) {
          const before = out.length;
          this.#source.drain(out, Math.min(room, 1 << 30));
          if (out.length === before) break;
          continue;
        }
        this.#source.drain(this.#queue, CHUNK);
        if (this.#queue.length === 0) break;
      }
      out.push(this.#shift());
    }
    return out;
  }

  /** Records until the reader is closed; leaving the loop early (break, throw) closes the reader. */
  async *[Symbol.asyncIterator](): AsyncGenerator<R, void, undefined> {
    try {
      for (;;) {
        const record = await this.read();
        if (record === undefined) return;
        yield record;
      }
    } finally {
      this.close();
    }
  }

  /**
   * Stop reading: the fds leave the epoll set, the rings are unmapped and
   * closed. A pending read() resolves to undefined (readBatch() to []) once
   * the waiting thread has let go of the epoll set. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const waiting = this.#pending;
    this.#pending = [];
    clearTimeout(this.#coalescing);
    this.#queue = [];
    this.#head = 0;
    const errors: unknown[] = [];
    try {
      this.#waiter.disarm(this.#watcher);
      for (const { fd, token } of this.#watched) this.#waiter.unwatch(fd, token);
    } catch (error) {
      errors.push(error);
    }
    try {
      this.#source.release();
    } catch (error) {
      errors.push(error);
    }
    this.#waiter.whenSettled(() => {
      for (const { resolve } of waiting) resolve([]);
    });
    this.#waiter.releaseIfIdle();
    if (errors.length) throw errors[0];
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #shift(): R {
    const record = this.#queue[this.#head]!;
    // let the record go as soon as it is handed out: the queue is a window, not an archive
    this.#queue[this.#head++] = undefined as R;
    return record;
  }

  /**
   * Called only right after the rings were found empty. A record that
   * arrives between that look and the arming is not missed: arming polls the
   * fd, and both the perf event (a wakeup since its last poll) and the ring
   * buffer (data available) then report it readable. Right after a delivery
   * the rings get COALESCE_MS to fill before the next look instead.
   */
  #arm(): void {
    if (performance.now() - this.#lastDelivery < COALESCE_MS) {
      this.#coalescing ??= setTimeout(() => {
        this.#coalescing = undefined;
        this.#lastDelivery = Number.NEGATIVE_INFINITY;
        this.#serve();
      }, COALESCE_MS);
      return;
    }
    this.#waiter.arm(this.#watcher, this.#watched);
  }

  /** Runs from the wait's callback: whatever goes wrong goes to the pending reads, never up into koffi. */
  #serve(): void {
    if (this.#closed) return;
    try {
      while (this.#pending.length > 0) {
        const records = this.#take(this.#pending[0]!.max);
        if (records.length === 0) break;
        this.#lastDelivery = performance.now();
        this.#pending.shift()!.resolve(records);
      }
      if (this.#pending.length > 0) this.#arm();
    } catch (error) {
      const failed = this.#pending;
      this.#pending = [];
      for (const { reject } of failed) reject(error);
    }
  }

}

function checkMax(max: number, label: string): void {
  if (!Number.isInteger(max) || max < 1) {
    throw new LoadError(`read from ${label}: max must be a whole number >= 1, not ${String(max)}`, {}, { code: 'BPF_LOAD_ARGUMENT' });
  }
}
