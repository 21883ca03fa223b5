import { constants } from 'node:os';

/** The exit status of a process ended by `signal` (128 + its number), as shells report it. */
export function exitStatusForSignal(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

const WATCHED = ['SIGINT', 'SIGTERM'] as const;

/**
 * SIGINT and SIGTERM for the whole of a command. Installed before anything
 * is loaded, so the default action (die where you stand) never cuts a load
 * or a pin set in half: a load runs synchronously, and the signal is seen
 * only once it has completed or been rolled back. A second Ctrl-C while the
 * command winds down exits at once with 130.
 */
export class SignalWatch {
  #received: NodeJS.Signals | undefined;
  #wake: (() => void) | undefined;
  readonly #onSignal = (signal: NodeJS.Signals): void => {
    if (this.#received !== undefined) {
      if (signal === 'SIGINT') process.exit(exitStatusForSignal('SIGINT'));
      return;
    }
    this.#received = signal;
    this.#wake?.();
  };

  constructor() {
    for (const signal of WATCHED) process.on(signal, this.#onSignal);
  }

  /** The first signal received, if any. */
  get received(): NodeJS.Signals | undefined {
    return this.#received;
  }

  /**
   * Resolve when a signal arrives, or after `seconds` when given. A pending
   * timer keeps Node's event loop alive: signal listeners alone do not, and
   * without one the process would exit at once with the await unsettled.
   */
  async wait(seconds?: number): Promise<void> {
    if (this.#received !== undefined) return;
    await new Promise<void>((resolve) => {
      const timer =
        seconds === undefined ? setInterval(() => undefined, 2 ** 30) : setTimeout(() => this.#wake?.(), seconds * 1000);
      this.#wake = () => {
        clearInterval(timer);
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }

  /** Stop watching: from here the default actions apply again. */
  dispose(): void {
    this.#wake?.();
    for (const signal of WATCHED) process.off(signal, this.#onSignal);
  }
}
