/**
 * What a half-done load must undo, undone in reverse order on failure.
 * On success the caller disarms it and the live object takes ownership.
 */
export class Cleanup {
  #undo: (() => void)[] = [];

  add(undo: () => void): void {
    this.#undo.push(undo);
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
        undo();
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
