import { BpfFd, mapGetInfo, type MapInfo } from '../syscall/index.js';
import type { MapDef } from '../elf/index.js';

/**
 * A live map: one owned fd plus what it is. Created by the loader for each
 * map of an object (then `index` and `offset` say where it came from).
 */
export class BpfMap {
  readonly #owner: BpfFd;
  #info: MapInfo | undefined;

  constructor(
    owner: BpfFd,
    /** the name in the object (the kernel keeps at most 15 characters of it) */
    readonly name: string,
    /** the definition the map was created from, after fixupMap */
    readonly def: Readonly<MapDef>,
    /** position in map_fd[]; -1 for a map not loaded from an object */
    readonly index: number = -1,
    /** offset of the definition in the `maps` section; -1 when not from an object */
    readonly offset: number = -1,
  ) {
    this.#owner = owner;
  }

  get fd(): number {
    return this.#owner.fd;
  }

  get closed(): boolean {
    return this.#owner.closed;
  }

  /** What the kernel says about this map (BPF_OBJ_GET_INFO_BY_FD), read once. */
  get info(): MapInfo {
    this.#info ??= mapGetInfo(this.fd);
    return this.#info;
  }

  /** The kernel's id for this map, as `bpftool map show id N` takes it. */
  get id(): number {
    return this.info.id;
  }

  close(): void {
    this.#owner.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
