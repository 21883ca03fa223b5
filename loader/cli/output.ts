import type { CliIo } from './common.js';

/** Text is handed to the output in pieces of about this size: big enough to amortise a write, small enough to bound memory. */
const PIECE = 64 * 1024;

/**
 * Output for a command that prints as it goes (dump of a big map): text is
 * gathered into pieces of ~64 KiB and each piece is written before more is
 * produced, waiting for the output to drain (backpressure), so memory stays
 * bounded whatever the size of what is printed. An io without write() (tests)
 * gets everything in one out() at the end.
 */
export class LineWriter {
  readonly #pending: string[] = [];
  #size = 0;
  #failed = false;

  constructor(private readonly io: CliIo) {}

  /** False once the output has failed or closed (a reader that stopped reading): stop producing. */
  get ok(): boolean {
    return !this.#failed;
  }

  /** Add `text` and a newline. */
  line(text: string): void {
    this.text(`${text}\n`);
  }

  /** Add `text` as it is. */
  text(text: string): void {
    this.#pending.push(text);
    this.#size += text.length;
  }

  /** True when what is gathered has grown to a piece: time to flush() (awaiting it) before producing more. */
  get full(): boolean {
    return this.#size >= PIECE && this.io.write !== undefined;
  }

  /** Write what is gathered (the whole output must end with a newline), and wait until the output takes it. */
  async flush(): Promise<void> {
    if (this.#pending.length === 0 || this.#failed) return;
    const text = this.#pending.join('');
    this.#pending.length = 0;
    this.#size = 0;
    if (this.io.write) {
      if (!(await this.io.write(text))) this.#failed = true;
    } else {
      // out() ends what it is given with a newline
      this.io.out(text.endsWith('\n') ? text.slice(0, -1) : text);
    }
  }
}

/** write() for a real stream: resolves true once it may take more, false when it failed or closed. */
export function writeWithBackpressure(stream: NodeJS.WriteStream, text: string): Promise<boolean> {
  if (stream.destroyed || stream.writableEnded) return Promise.resolve(false);
  if (stream.write(text)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      stream.off('drain', drained);
      stream.off('error', failed);
      stream.off('close', failed);
      resolve(ok);
    };
    const drained = done(true);
    const failed = done(false);
    stream.once('drain', drained);
    stream.once('error', failed);
    stream.once('close', failed);
  });
}
