import { unlinkSync } from 'node:fs';
import { objGet, objPin, objectIdOf } from '../../syscall/index.js';
import { isBpffs, nearestExisting, pathExists, pinFailureHint } from '../bpffs/bpffs.js';
import { MapError } from '../errors.js';

/** What a handle's pins need of it: its name for errors, its fd to pin, its id to recognise its own pins. */
export interface PinnableMap {
  readonly name: string;
  readonly fd: number;
  readonly id: number;
}

/**
 * The pins one map handle made (BPF_OBJ_PIN), in order, and their removal:
 * unpin() without a path removes the last, and never removes what is not a
 * pin of this very map.
 */
export class MapPins {
  readonly #paths: string[] = [];

  constructor(readonly map: PinnableMap) {}

  get paths(): readonly string[] {
    return this.#paths;
  }

  pin(path: string): void {
    try {
      objPin(this.map.fd, path);
    } catch (cause) {
      throw new MapError(this.map.name, `cannot pin at '${path}'`, { cause, hint: pinFailureHint(cause, path, 'unpin it first') });
    }
    this.#paths.push(path);
  }

  unpin(path?: string): boolean {
    const target = path ?? this.#paths.at(-1);
    if (target === undefined) throw new MapError(this.map.name, 'unpin() without a path, and this handle pinned nothing');
    if (!pathExists(target)) {
      this.#forget(target);
      return false;
    }
    this.#checkPinnedHere(target);
    this.#forget(target);
    try {
      unlinkSync(target);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new MapError(this.map.name, `cannot unpin '${target}': ${(error as Error).message}`);
    }
  }

  #forget(path: string): void {
    const index = this.#paths.lastIndexOf(path);
    if (index >= 0) this.#paths.splice(index, 1);
  }

  /** unlink() as root removes anything: make sure `path` is a pin of this very map first. */
  #checkPinnedHere(path: string): void {
    const { name } = this.map;
    if (!isBpffs(nearestExisting(path))) {
      throw new MapError(name, `will not unpin '${path}': it is not on a bpf filesystem, so not a pin`, {
        code: 'BPF_LOAD_MAP_NOT_PINNED_HERE',
      });
    }
    let pinnedId: number;
    try {
      const pinned = objGet(path, 0);
      try {
        pinnedId = objectIdOf(pinned.fd);
      } finally {
        pinned.close();
      }
    } catch (cause) {
      throw new MapError(name, `will not unpin '${path}': cannot tell what is pinned there`, {
        cause, code: 'BPF_LOAD_MAP_NOT_PINNED_HERE', hint: 'a directory, or no permission to open it: remove it with rm if you mean to',
      });
    }
    if (pinnedId !== this.map.id) {
      throw new MapError(name, `will not unpin '${path}': it pins another bpf object (id ${pinnedId}), not this map (id ${this.map.id})`, {
        code: 'BPF_LOAD_MAP_NOT_PINNED_HERE',
      });
    }
  }
}
