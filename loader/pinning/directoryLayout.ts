import { join, resolve } from 'node:path';
import type { ObjectSpec } from '../../elf/index.js';
import { checkCreatable, checkPinComponent, ensureOnBpffs, pathExists, pinNameFor } from '../bpffs/bpffs.js';
import { recordPin } from '../bpffs/pinRecord.js';
import type { Cleanup } from '../cleanup.js';
import { LoadError, type LoadErrorContext } from '../errors.js';
import type { LoadOptions } from '../options.js';
import { PinLedger } from './pinLedger.js';
import { openCompatiblePinnedMap } from './reusePinnedMap.js';
import type { PinningPlan } from './types.js';

/** Pin names for every map, unique, without the dots bpffs refuses. */
function uniquePinNames(
  names: readonly string[],
  kind: 'map' | 'program',
  context: LoadErrorContext,
  warn: ((message: string) => void) | undefined,
): string[] {
  const seen = new Map<string, string>();
  return names.map((name) => {
    const pinName = pinNameFor(name);
    if (pinName !== name) warn?.(`${kind} '${name}' is pinned as '${pinName}': bpffs refuses '.' in names`);
    const other = seen.get(pinName);
    if (other !== undefined) {
      throw new LoadError(`${kind}s '${other}' and '${name}' would both be pinned as '${pinName}'`, context);
    }
    seen.set(pinName, name);
    return pinName;
  });
}

/** `pinDir`: every map at DIR/maps/<name>, every program at DIR/progs/<name>. */
export function planDirectoryPinning(spec: ObjectSpec, options: LoadOptions, cleanup: Cleanup): Partial<PinningPlan> {
  const directory = resolve(options.pinDir!);
  const context = { file: spec.file };
  const force = options.force === true;
  const reuse = options.reusePinned === true;
  ensureOnBpffs(directory, context);
  checkCreatable(directory, context);
  const mapsDirectory = join(directory, 'maps');
  const programsDirectory = join(directory, 'progs');
  const mapPinNames = uniquePinNames(spec.maps.map((m) => m.name), 'map', context, options.onWarning);
  const mapPath = (index: number) => join(mapsDirectory, mapPinNames[index]!);
  for (const name of mapPinNames) checkPinComponent(name, 'map pin name', context);

  // refuse before anything is created, rather than after every map exists
  if (!force && !reuse) {
    const taken = spec.maps.map((m) => m.index).filter((i) => pathExists(mapPath(i)));
    if (taken.length) {
      throw new LoadError(
        `maps are already pinned in ${mapsDirectory}: ${taken.map((i) => mapPinNames[i]).join(', ')}`,
        context,
        { hint: 'reuse them with --reuse-pinned (reusePinned), replace them with --force, or unpin them first' },
      );
    }
  }
  // programs are new on every load, so an existing program pin is refused even with reusePinned; which
  // programs load is known here only without options.programs (pinPrograms refuses the others later)
  if (!force && options.programs === undefined) {
    const taken = uniquePinNames(spec.programs.map((p) => p.name), 'program', context, undefined)
      .filter((name) => pathExists(join(programsDirectory, name)));
    if (taken.length) {
      throw new LoadError(`programs are already pinned in ${programsDirectory}: ${taken.join(', ')}`, context, {
        hint: reuse
          ? 'a program is loaded anew every time, so its pin is never reused: replace it with --force (force) to keep the reused maps'
          : 'replace them with --force, or unpin them first',
      });
    }
  }

  const ledger = new PinLedger(cleanup);
  const reused = new Set<number>();
  return {
    createHooks: reuse
      ? {
          resolveExisting: (map, def) => {
            const mapContext = { ...context, map: { index: map.index, name: map.name } };
            const fd = openCompatiblePinnedMap(
              mapPath(map.index), map, def, mapContext, force,
              'unpin it, load without --reuse-pinned and with --force to replace it, or fix the definition',
              options.onWarning,
            );
            if (fd) reused.add(map.index);
            return fd;
          },
        }
      : {},
    pinMaps: (maps) => {
      if (maps.length === 0) return;
      ledger.directories(mapsDirectory, context);
      for (const map of maps) {
        recordPin(map, mapPath(map.index));
        if (reused.has(map.index)) continue;
        ledger.pin(map.fd, mapPath(map.index), { ...context, map: { index: map.index, name: map.name } }, force, 'map');
      }
    },
    pinPrograms: (programs) => {
      if (programs.length === 0) return;
      const names = uniquePinNames(programs.map((p) => p.name), 'program', context, options.onWarning);
      ledger.directories(programsDirectory, context);
      for (const [i, program] of programs.entries()) {
        const path = join(programsDirectory, names[i]!);
        ledger.pin(program.fd, path, { ...context, program: program.name }, force, 'program');
        recordPin(program, path);
      }
    },
    commit: () => ledger.commit(),
  };
}
