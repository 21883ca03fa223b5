import { join, resolve } from 'node:path';
import type { MapDef, MapSpec, ObjectSpec } from '../elf/index.js';
import type { BpfFd } from '../syscall/index.js';
import { checkCreatable, checkPinComponent, ensureOnBpffs, pathExists, pinNameFor } from './bpffs.js';
import type { BpfMap } from './bpfMap.js';
import type { BpfProgram } from './bpfProgram.js';
import type { Cleanup } from './cleanup.js';
import type { CreateMapsOptions } from './createMaps.js';
import { LoadError, type LoadErrorContext } from './errors.js';
import { openCompatiblePinnedMap, PinLedger } from './pins.js';
import { recordPin } from './pinRecord.js';
import type { LoadOptions } from './options.js';
import { planTcPinning } from './tcMaps.js';

/** What pinning adds to a load: hooks into map creation, and pins made once objects exist. */
export interface PinningPlan {
  createHooks: Pick<CreateMapsOptions, 'resolveExisting' | 'innerTemplateIndex'>;
  pinMaps(maps: readonly BpfMap[]): void;
  pinPrograms(programs: readonly BpfProgram[]): void;
  /** the load succeeded: let go of what was kept only to undo a failure */
  commit(): void;
}

export function planPinning(spec: ObjectSpec, options: LoadOptions, cleanup: Cleanup): PinningPlan {
  const parts: Partial<PinningPlan>[] = [];
  if (spec.convention === 'tc' && spec.maps.length > 0) parts.push(planTcPinning(spec, options, cleanup));
  if (options.pinDir !== undefined) parts.push(planDirectoryPinning(spec, options, cleanup));
  const resolvers = parts.map((p) => p.createHooks?.resolveExisting).filter((r) => r !== undefined);
  const innerTemplateIndex = parts.map((p) => p.createHooks?.innerTemplateIndex).find((r) => r !== undefined);
  return {
    createHooks: {
      ...(resolvers.length ? { resolveExisting: (map: MapSpec, def: MapDef) => firstResolved(resolvers, map, def) } : {}),
      ...(innerTemplateIndex ? { innerTemplateIndex } : {}),
    },
    pinMaps: (maps) => parts.forEach((p) => p.pinMaps?.(maps)),
    pinPrograms: (programs) => parts.forEach((p) => p.pinPrograms?.(programs)),
    commit: () => parts.forEach((p) => p.commit?.()),
  };
}

type Resolver = NonNullable<CreateMapsOptions['resolveExisting']>;

function firstResolved(resolvers: Resolver[], map: MapSpec, def: MapDef): BpfFd | undefined {
  for (const resolver of resolvers) {
    const fd = resolver(map, def);
    if (fd) return fd;
  }
  return undefined;
}

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
function planDirectoryPinning(spec: ObjectSpec, options: LoadOptions, cleanup: Cleanup): Partial<PinningPlan> {
  const directory = resolve(options.pinDir!);
  const context = { file: spec.file, action: 'pin' };
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
