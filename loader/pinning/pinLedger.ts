import { symlinkSync } from 'node:fs';
import { objectIdOf, type BpfFd } from '../../syscall/index.js';
import { makeDirectories, openPinned, pathExists, pinFd, removeEmptyDirectories, unpinPath } from '../bpffs/bpffs.js';
import type { Cleanup } from '../cleanup.js';
import { LoadError, type LoadErrorContext } from '../errors.js';

/**
 * Pins one load made, and how to take them back: unpin what it created,
 * put back what it replaced, never touch what it reused.
 */
export class PinLedger {
  readonly #cleanup: Cleanup;
  readonly #replaced: BpfFd[] = [];

  constructor(cleanup: Cleanup) {
    this.#cleanup = cleanup;
  }

  directories(path: string, context: LoadErrorContext): void {
    const made = makeDirectories(path, context);
    if (made.length) this.#cleanup.add(() => removeEmptyDirectories(made));
  }

  /** A symbolic link at `path` unless something is there already. */
  symlink(target: string, path: string, context: LoadErrorContext): void {
    if (pathExists(path)) return;
    try {
      symlinkSync(target, path);
    } catch (cause) {
      // a concurrent load made it since we looked
      if ((cause as NodeJS.ErrnoException).code === 'EEXIST') return;
      throw new LoadError(`cannot create the link '${path}' -> '${target}': ${(cause as NodeJS.ErrnoException).code}`, context, {
        cause,
      });
    }
    this.#cleanup.add(() => unpinPath(path));
  }

  /**
   * Pin `fd` at `path`. When something is pinned there already: the same
   * object is left as it is; another one is replaced only with `force`.
   */
  pin(fd: number, path: string, context: LoadErrorContext, force: boolean, what: string): 'pinned' | 'already' | 'replaced' {
    if (pathExists(path)) {
      const existing = openPinned(path, context);
      let sameObject: boolean;
      try {
        sameObject = objectIdOf(existing.fd) === objectIdOf(fd);
      } catch {
        sameObject = false;
      }
      if (sameObject) {
        existing.close();
        return 'already';
      }
      if (!force) {
        existing.close();
        throw new LoadError(`${what} '${path}' is already pinned`, context, {
          hint: 'remove it (load-kern-object unpin DIR), or replace it with force (--force)',
        });
      }
      try {
        unpinPath(path);
        pinFd(fd, path, context);
      } catch (error) {
        restorePin(existing, path);
        throw error;
      }
      this.#replaced.push(existing);
      this.#cleanup.add(() => restorePin(existing, path));
      return 'replaced';
    }
    pinFd(fd, path, context);
    this.#cleanup.add(() => unpinPath(path));
    return 'pinned';
  }

  /** Close the fds kept to put replaced pins back. */
  commit(): void {
    if (this.#replaced.length === 0) return;
    for (const fd of this.#replaced.splice(0)) fd.close();
  }
}

function restorePin(previous: BpfFd, path: string): void {
  try {
    unpinPath(path);
    pinFd(previous.fd, path, {});
  } finally {
    previous.close();
  }
}

