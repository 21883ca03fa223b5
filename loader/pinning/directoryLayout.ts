import { join, resolve } from 'node:path';
import type { MapSpec, ObjectSpec, ProgramSpec } from '../../elf/index.js';
import { checkCreatable, checkPinComponent, ensureOnBpffs, pathExists, pinNameFor } from '../bpffs/bpffs.js';
import { LoadError, type LoadErrorContext } from '../errors.js';

/** Pin names for every map, unique, without the dots bpffs refuses. */
export function uniquePinNames(
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

/** Where `pinDir` puts a load's pins. */
export interface DirectoryPins {
  mapsDirectory: string;
  programsDirectory: string;
  /** every map's pin path, by map name */
  maps: Map<string, string>;
}

/**
 * `pinDir`: every map at DIR/maps/<name>, every program at DIR/progs/<name>.
 * Refuses, before anything is created, pins that are taken and would not be
 * replaced (force) or reused (reuse).
 */
export function planDirectoryPins(
  spec: ObjectSpec,
  maps: readonly MapSpec[],
  programs: readonly ProgramSpec[],
  settings: { dir: string; force: boolean; reuse: boolean; allPrograms: boolean },
  warn: ((message: string) => void) | undefined,
): DirectoryPins {
  const directory = resolve(settings.dir);
  const context = { file: spec.file };
  ensureOnBpffs(directory, context);
  checkCreatable(directory, context);
  const mapsDirectory = join(directory, 'maps');
  const programsDirectory = join(directory, 'progs');
  const pinNames = uniquePinNames(maps.map((m) => m.name), 'map', context, warn);
  for (const name of pinNames) checkPinComponent(name, 'map pin name', context);
  const paths = new Map(maps.map((m, i) => [m.name, join(mapsDirectory, pinNames[i]!)]));

  if (!settings.force && !settings.reuse) {
    const taken = pinNames.filter((name) => pathExists(join(mapsDirectory, name)));
    if (taken.length) {
      throw new LoadError(`maps are already pinned in ${mapsDirectory}: ${taken.join(', ')}`, context, {
        hint: 'reuse them with --reuse-pinned (reusePinned), replace them with --force, or unpin them first',
      });
    }
  }
  // programs are new on every load, so an existing program pin is refused even with reuse; which
  // programs load is known here only when all of them do (pinning the others refuses them later)
  if (!settings.force && settings.allPrograms) {
    const taken = uniquePinNames(programs.map((p) => p.name), 'program', context, undefined)
      .filter((name) => pathExists(join(programsDirectory, name)));
    if (taken.length) {
      throw new LoadError(`programs are already pinned in ${programsDirectory}: ${taken.join(', ')}`, context, {
        hint: settings.reuse
          ? 'a program is loaded anew every time, so its pin is never reused: replace it with --force (force) to keep the reused maps'
          : 'replace them with --force, or unpin them first',
      });
    }
  }
  return { mapsDirectory, programsDirectory, maps: paths };
}
