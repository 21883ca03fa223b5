import type { MapSpec } from '../../elf/index.js';
import type { BpfFd } from '../../syscall/index.js';
import { openPinned, pathExists } from '../bpffs/bpffs.js';
import { LoadError, type LoadErrorContext } from '../errors.js';
import { inspectMapFd, mapMismatches } from '../maps/compatibility.js';

/**
 * Open the map pinned at `path` for reuse by `map`, after checking it is the
 * same kind of map. Returns undefined (the map is to be created) when nothing
 * is pinned there, or when it differs and `replace` allows creating a new one.
 */
export function openCompatiblePinnedMap(
  path: string,
  map: MapSpec,
  context: LoadErrorContext,
  replace: boolean,
  mismatchHint: string,
  warn?: (message: string) => void,
): BpfFd | undefined {
  if (!pathExists(path)) return undefined;
  const fd = openPinned(path, context);
  const inspection = inspectMapFd(fd.fd);
  if (inspection.kind === 'other') {
    fd.close();
    if (replace) {
      warn?.(`map '${map.name}': '${path}' pins a ${inspection.what}, not a map: replacing it`);
      return undefined;
    }
    throw new LoadError(`'${path}' pins a ${inspection.what}, not a map, so it cannot be reused as map '${map.name}'`, context, {
      hint: mismatchHint,
    });
  }
  if (inspection.kind === 'unreadable') {
    fd.close();
    throw new LoadError(`'${path}' is not a pinned map`, context, { cause: inspection.cause });
  }
  const differences = mapMismatches(map, inspection.info, `pinned at ${path}`);
  if (differences.length === 0) return fd;
  fd.close();
  if (replace) {
    warn?.(`map '${map.name}': the map pinned at ${path} differs (${differences.join('; ')}): replacing it with a new, empty map; its entries are lost`);
    return undefined;
  }
  throw new LoadError(`the pinned map differs from the object's definition of '${map.name}': ${differences.join('; ')}`, context, {
    hint: mismatchHint,
  });
}

