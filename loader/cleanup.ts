/**
 * What a half-done load must undo, undone in reverse order on failure.
 * On success the caller disarms it and the live object takes ownership.
 */
export class Cleanup {
  #undo: (Closeable | (() => void))[] = [];

  add(undo: () => void): void {
    this.#undo.push(undo);
  }

  /** Undo by closing `owned`: the same as add(() => owned.close()), with no closure made per fd. */
  addClose(owned: Closeable): void {
    this.#undo.push(owned);
  }

  /** Hand ownership to someone else: nothing will be undone. */
  disarm(): void {
    this.#undo = [];
  }

  /** Undo everything; errors while undoing are collected, never hide the original failure. */
  run(): unknown[] {
    const errors: unknown[] = [];
    for (const undo of this.#undo.reverse()) {
      try {
        if (typeof undo === 'function') undo();
        else undo.close();
      } catch (error) {
        errors.push(error);
      }
    }
    this.#undo = [];
    return errors;
  }

  /** Undo everything as run() does, then throw the first error undoing met: for a close() that must report a failure. */
  runOrThrow(): void {
    const errors = this.run();
    if (errors.length) throw errors[0];
  }
}

interface Closeable {
  close(): void;
}
