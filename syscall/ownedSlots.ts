import { addressHalves, addressOf } from './native.js';

/** Bytes per slab: Node's own Buffer pool size, so a kept Buffer pins no more than an allocUnsafe one does. */
const SLAB_BYTES = 8192;
/** Views made at a time: enough to amortise making them, few enough not to waste many on a single call. */
const BURST = 64;

/**
 * Fresh Buffers the kernel fills itself. A lookup or get_next_key that
 * returns a Buffer the caller keeps would otherwise copy the result out of
 * the scratch memory into a new Buffer; here the kernel writes it straight
 * into the next slot of a slab whose address is known, and the caller gets a
 * view of that slot made beforehand with the rest of its burst. Each slot is
 * handed out once, so no later call overwrites a Buffer a caller holds. As
 * with Buffer.allocUnsafe's pool, a Buffer's `.buffer` is the slab its
 * neighbours share.
 *
 * Per call: ready(), the bpf(2) call with the address in `lo`/`hi`, then
 * take() only if the call succeeded (a failed call leaves the slot to the next).
 */
export class OwnedSlots {
  /** the two halves of the address of the slot ready() chose, for the attr */
  lo = 0;
  hi = 0;
  readonly #stride: number;
  readonly #views: (Buffer | undefined)[] = new Array<Buffer | undefined>(BURST);
  /** the whole slab, viewed: its length drops to 0 if its ArrayBuffer is detached (transferred away) */
  #slab = new Uint8Array(0);
  #baseLo = 0;
  #baseHi = 0;
  /** views made in this burst, and the index of the next one to hand out */
  #made = 0;
  #next = 0;
  /** offset in the slab of the next slot */
  #at = 0;

  constructor(readonly size: number) {
    // 8-byte aligned slots, as Node aligns its pool: a value can be viewed as 64-bit words
    this.#stride = (Math.max(size, 1) + 7) & ~7;
  }

  /** Point `lo`/`hi` at a free slot. */
  ready(): void {
    // a detached slab is no longer ours to write
    if (this.#next === this.#made || this.#slab.byteLength === 0) this.#burst();
    const lo = this.#baseLo + this.#at;
    this.lo = lo >>> 0;
    this.hi = lo > 0xffffffff ? this.#baseHi + 1 : this.#baseHi;
  }

  /** The slot ready() chose, filled by the call: the caller's from now on. */
  take(): Buffer {
    const index = this.#next++;
    const view = this.#views[index]!;
    this.#views[index] = undefined;
    this.#at += this.#stride;
    return view;
  }

  #burst(): void {
    const stride = this.#stride;
    if (this.#slab.byteLength - this.#at < stride) this.#newSlab();
    const count = Math.min(BURST, Math.floor((this.#slab.byteLength - this.#at) / stride));
    const buffer = this.#slab.buffer;
    for (let i = 0; i < count; i++) this.#views[i] = Buffer.from(buffer, this.#at + i * stride, this.size);
    this.#made = count;
    this.#next = 0;
  }

  #newSlab(): void {
    const stride = this.#stride;
    // an ArrayBuffer's memory is never on the JS heap, so it never moves
    this.#slab = new Uint8Array(new ArrayBuffer(Math.max(1, Math.floor(SLAB_BYTES / stride)) * stride));
    [this.#baseLo, this.#baseHi] = addressHalves(addressOf(this.#slab));
    this.#at = 0;
  }
}
