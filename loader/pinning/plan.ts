import type { MapDef, MapSpec, ObjectSpec } from '../../elf/index.js';
import type { BpfFd } from '../../syscall/index.js';
import type { Cleanup } from '../cleanup.js';
import type { LoadOptions } from '../options.js';
import { planDirectoryPinning } from './directoryLayout.js';
import { planTcPinning } from './tcLayout.js';
import type { MapCreateHooks, PinningPlan } from './types.js';

/** What a load that pins nothing, most of them, gets: no hooks and nothing to do. */
const NO_PINNING: PinningPlan = Object.freeze({
  createHooks: Object.freeze({}),
  pinMaps: () => undefined,
  pinPrograms: () => undefined,
  commit: () => undefined,
});

export function planPinning(spec: ObjectSpec, options: LoadOptions, cleanup: Cleanup): PinningPlan {
  const parts: Partial<PinningPlan>[] = [];
  if (spec.convention === 'tc' && spec.maps.length > 0) parts.push(planTcPinning(spec, options, cleanup));
  if (options.pinDir !== undefined) parts.push(planDirectoryPinning(spec, options, cleanup));
  if (parts.length === 0) return NO_PINNING;
  const resolvers = parts.map((p) => p.createHooks?.resolveExisting).filter((r) => r !== undefined);
  const innerTemplateIndex = parts.map((p) => p.createHooks?.innerTemplateIndex).find((r) => r !== undefined);
  const publishCreated = parts.map((p) => p.createHooks?.publishCreated).find((r) => r !== undefined);
  return {
    createHooks: {
      ...(resolvers.length ? { resolveExisting: (map: MapSpec, def: MapDef) => firstResolved(resolvers, map, def) } : {}),
      ...(innerTemplateIndex ? { innerTemplateIndex } : {}),
      ...(publishCreated ? { publishCreated } : {}),
    },
    pinMaps: (maps) => parts.forEach((p) => p.pinMaps?.(maps)),
    pinPrograms: (programs) => parts.forEach((p) => p.pinPrograms?.(programs)),
    commit: () => parts.forEach((p) => p.commit?.()),
  };
}

type Resolver = NonNullable<MapCreateHooks['resolveExisting']>;

function firstResolved(resolvers: Resolver[], map: MapSpec, def: MapDef): BpfFd | undefined {
  for (const resolver of resolvers) {
    const fd = resolver(map, def);
    if (fd) return fd;
  }
  return undefined;
}

