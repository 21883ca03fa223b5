import type { BpfFd } from '../syscall/index.js';

/** A loaded program: one owned fd. */
export class BpfProgram {
  readonly #owner: BpfFd;

  constructor(
    owner: BpfFd,
    readonly section: string,
    readonly name: string,
    /** BPF_PROG_TYPE_* */
    readonly type: number,
    /** position in prog_fd[] */
    readonly index: number,
  ) {
    this.#owner = owner;
  }

  get fd(): number {
    return this.#owner.fd;
  }

  close(): void {
    this.#owner.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
