import { symlinkSync } from 'node:fs';
import type { MapDef, MapSpec } from '../elf/index.js';
import { BpfFd, isMapInMapType, mapGetInfo, mapTypeName, type MapInfo } from '../syscall/index.js';
import {
  fdKind, makeDirectories, objectId, openPinned, pathExists, pinFd, removeEmptyDirectories, unpinPath,
} from './bpffs.js';
import type { Cleanup } from './cleanup.js';
import { LoadError, type LoadErrorContext } from './errors.js';

/** The fields the kernel keeps of a definition, as BPF_MAP_CREATE was (or would be) given them. */
export function effectiveDef(def: MapDef): Pick<MapInfo, 'type' | 'key_size' | 'value_size' | 'max_entries' | 'map_flags'> {
  return {
    type: def.type,
    key_size: def.key_size,
    // an outer map's value is a map fd whatever the definition says (createMaps passes 4)
    value_size: isMapInMapType(def.type) ? 4 : def.value_size,
    max_entries: def.max_entries,
    map_flags: def.map_flags,
  };
}

/**
 * What differs between an object's definition and a pinned map, one phrase per
 * field naming both sides, e.g. `max_entries 1024 (object) != 512 (pinned at P)`.
 * The fields iproute2 compares: type, sizes, max entries, flags.
 */
export function definitionMismatches(def: MapDef, pinned: MapInfo, path: string): string[] {
  const want = effectiveDef(def);
  const where = `(pinned at ${path})`;
  const differences: string[] = [];
  if (want.type !== pinned.type) {
    differences.push(`type ${mapTypeName(want.type)} (object) != ${mapTypeName(pinned.type)} ${where}`);
  }
  for (const field of ['key_size', 'value_size', 'max_entries'] as const) {
    if (want[field] !== pinned[field]) differences.push(`${field} ${want[field]} (object) != ${pinned[field]} ${where}`);
  }
  if (want.map_flags !== pinned.map_flags) {
    differences.push(`map_flags 0x${want.map_flags.toString(16)} (object) != 0x${pinned.map_flags.toString(16)} ${where}`);
  }
  return differences;
}

/**
 * Open the map pinned at `path` for reuse by `map`, after checking it is the
 * same kind of map. Returns undefined (the map is to be created) when nothing
 * is pinned there, or when it differs and `replace` allows creating a new one.
 */
export function openCompatiblePinnedMap(
  path: string,
  map: MapSpec,
  def: MapDef,
  context: LoadErrorContext,
  replace: boolean,
  mismatchHint: string,
): BpfFd | undefined {
  if (!pathExists(path)) return undefined;
  const fd = openPinned(path, context);
  // BPF_OBJ_GET_INFO_BY_FD answers for programs and links too: their info read as a map's is noise
  const kind = fdKind(fd.fd);
  if (kind !== undefined && kind !== 'anon_inode:bpf-map') {
    fd.close();
    if (replace) return undefined;
    throw new LoadError(`'${path}' pins a ${kind.replace('anon_inode:', '')}, not a map, so it cannot be reused as map '${map.name}'`, context, {
      hint: mismatchHint,
    });
  }
  let info: MapInfo;
  try {
    info = mapGetInfo(fd.fd);
  } catch (cause) {
    fd.close();
    throw new LoadError(`'${path}' is not a pinned map`, context, { cause });
  }
  const differences = definitionMismatches(def, info, path);
  if (differences.length === 0) return fd;
  fd.close();
  if (replace) return undefined;
  throw new LoadError(`the pinned map differs from the object's definition of '${map.name}': ${differences.join('; ')}`, context, {
    hint: mismatchHint,
  });
}

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
        sameObject = objectId(existing.fd) === objectId(fd);
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

