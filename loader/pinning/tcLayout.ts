import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { MapDef, MapSpec, ObjectSpec } from '../../elf/index.js';
import { BPF_ANY, BPF_MAP_TYPE, SyscallError, isMapInMapType, type BpfFd } from '../../syscall/index.js';
import { checkPinComponent, DEFAULT_BPFFS, ensureOnBpffs, pathExists, pinNameFor } from '../bpffs/bpffs.js';
import type { BpfMap } from '../maps/bpfMap.js';
import type { Cleanup } from '../cleanup.js';
import { LoadError } from '../errors.js';
import type { LoadOptions } from '../options.js';
import type { PinningPlan } from './types.js';
import { PinLedger } from './pinLedger.js';
import { openCompatiblePinnedMap } from './reusePinnedMap.js';
import { recordPin } from '../bpffs/pinRecord.js';

/** struct bpf_elf_map.pinning (iproute2 include/bpf_elf.h); larger values name a subpath in bpf_pinning. */
export const PIN_NONE = 0;
export const PIN_OBJECT_NS = 1;
export const PIN_GLOBAL_NS = 2;
/** inner_idx of a map that is not to be inserted into an outer map */
export const NO_INNER_IDX = 0xffffffff;

/** Links iproute2 makes next to `tc/` for `ip link ... xdp` and `ip route ... lwt` objects. */
const TC_ALIASES = ['xdp', 'ip'];

/** Where iproute2 looks up custom pinning ids (`id subpath` lines), in order. */
export const PINNING_DATABASES = ['/etc/iproute2/bpf_pinning', '/usr/lib/iproute2/bpf_pinning'];

const objectBytes = new WeakMap<ObjectSpec, Uint8Array>();

/**
 * Remember the file bytes a spec was parsed from: tc's PIN_OBJECT_NS
 * directory is named by their SHA-1, which the spec alone cannot give.
 */
export function rememberObjectBytes(spec: ObjectSpec, bytes: Uint8Array): void {
  objectBytes.set(spec, bytes);
}

export function objectBytesOf(spec: ObjectSpec): Uint8Array | undefined {
  return objectBytes.get(spec);
}


/** The 40 hex digits tc names a PIN_OBJECT_NS directory by: SHA-1 of the whole object file. */
export function objectHash(bytes: Uint8Array): string {
  // loaded here, not at start-up: crypto costs ~15 ms to load and only the tc convention's pins need it
  const { createHash } = process.getBuiltinModule('node:crypto');
  return createHash('sha1').update(bytes).digest('hex');
}

/** iproute2's custom pinning ids (> 2) and the subpaths of the bpffs they stand for. */
export function readPinningDatabase(paths: readonly string[] = PINNING_DATABASES): Map<number, string> {
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    const entries = new Map<number, string>();
    for (const line of text.split('\n')) {
      const match = /^\s*(\d+)\s+(\S+)/.exec(line);
      if (!match || line.trimStart().startsWith('#')) continue;
      const id = Number(match[1]);
      if (id > PIN_GLOBAL_NS) entries.set(id, match[2]!);
    }
    return entries;
  }
  return new Map();
}

/**
 * The pin path tc gives a map, or undefined for PIN_NONE and custom ids the
 * pinning database does not know (tc does not pin those either).
 */
export function tcPinPath(
  bpffs: string,
  map: MapSpec,
  hash: () => string,
  customPaths: () => Map<number, string>,
): string | undefined {
  const pinning = map.tc?.pinning ?? PIN_NONE;
  const name = pinNameFor(map.name);
  switch (pinning) {
    case PIN_NONE:
      return undefined;
    case PIN_OBJECT_NS:
      return join(bpffs, 'tc', hash(), name);
    case PIN_GLOBAL_NS:
      return join(bpffs, 'tc', 'globals', name);
    default: {
      const subpath = customPaths().get(pinning);
      return subpath === undefined ? undefined : join(bpffs, subpath, name);
    }
  }
}

/**
 * The tc convention (iproute2 lib/bpf_legacy.c): maps with PIN_GLOBAL_NS or
 * PIN_OBJECT_NS are looked up at their pin path and reused when the
 * definition matches (so two loads share them), created and pinned when
 * absent; outer maps take the template whose `id` is their `inner_id`; then
 * each map with an `id`, no `inner_id` and an `inner_idx` is inserted at that
 * index into every outer map whose `inner_id` is its id.
 */
export function planTcPinning(spec: ObjectSpec, options: LoadOptions, cleanup: Cleanup): Partial<PinningPlan> {
  const bpffs = resolve(options.bpffs ?? DEFAULT_BPFFS);
  const context = { file: spec.file, section: 'maps' };
  const force = options.force === true;
  let hash: string | undefined;
  const objectDirectoryName = (): string => {
    if (hash === undefined) {
      const bytes = objectBytesOf(spec) ?? options.objectBytes;
      if (!bytes) {
        throw new LoadError('PIN_OBJECT_NS maps are pinned in a directory named by the SHA-1 of the object file, which is not known here', context, {
          hint: 'load with loadBpfFile(path), or pass the file\'s bytes as options.objectBytes to loadBpfObject()',
        });
      }
      hash = objectHash(bytes);
    }
    return hash;
  };
  let database: Map<number, string> | undefined;
  const customPaths = () => (database ??= readPinningDatabase());

  const paths = spec.maps.map((map) => tcPinPath(bpffs, map, objectDirectoryName, customPaths));
  for (const [index, map] of spec.maps.entries()) {
    const pinning = map.tc?.pinning ?? PIN_NONE;
    if (pinning > PIN_GLOBAL_NS && paths[index] === undefined) {
      options.onWarning?.(
        `map '${map.name}': pinning ${pinning} is not in ${PINNING_DATABASES.join(' or ')}: not pinned (as tc does)`,
      );
    }
    if (paths[index] === undefined) continue;
    const pinName = pinNameFor(map.name);
    checkPinComponent(pinName, 'map pin name', context);
    if (pinName !== map.name) options.onWarning?.(`map '${map.name}' is pinned as '${pinName}': bpffs refuses '.' in names`);
  }
  checkUniquePaths(spec, paths, context);

  const ledger = new PinLedger(cleanup);
  if (paths.some((p) => p !== undefined)) {
    ensureOnBpffs(bpffs, context);
    // the hierarchy tc makes whenever it works with bpffs; ip (XDP, lwt) finds the same maps through the links
    ledger.directories(join(bpffs, 'tc', 'globals'), context);
    for (const alias of TC_ALIASES) ledger.symlink('tc/', join(bpffs, alias), context);
  }

  const reused = new Set<number>();
  const displaced: BpfMap[] = [];
  const openShared = (map: MapSpec, def: MapDef, path: string): BpfFd | undefined => {
    const fd = openCompatiblePinnedMap(
      path, map, def, { ...context, map: { index: map.index, name: map.name } }, force, SHARED_MISMATCH_HINT, options.onWarning,
    );
    if (fd) reused.add(map.index);
    return fd;
  };
  return {
    createHooks: {
      resolveExisting: (map, def) => {
        const path = paths[map.index];
        return path === undefined ? undefined : openShared(map, def, path);
      },
      // pinned as soon as made, so a concurrent load of the same object finds it and shares it
      publishCreated: (map, def, created) => {
        const path = paths[map.index];
        if (path === undefined) return created;
        const mapContext = { ...context, map: { index: map.index, name: map.name } };
        ledger.directories(dirname(path), mapContext);
        for (let attempt = 1; ; attempt++) {
          try {
            ledger.pin(created.fd, path, mapContext, force, 'map');
            return created;
          } catch (error) {
            // another loader pinned it between our look and our pin: look again, and share theirs if it matches
            if (attempt >= PIN_RACE_ATTEMPTS || !pathExists(path)) throw error;
            const shared = openShared(map, def, path);
            if (shared) return shared;
          }
        }
      },
      innerTemplateIndex: (map) => innerTemplateIndex(spec, map),
    },
    pinMaps: (maps) => {
      displaced.push(...insertInnerMaps(spec, maps, reused, cleanup));
      for (const map of maps) {
        const path = paths[map.index];
        if (path !== undefined) recordPin(map, path);
      }
    },
    commit: () => {
      ledger.commit();
      for (const map of displaced.splice(0)) map.close();
    },
  };
}

/** Two loads racing for one pin settle it in one retry; more means something keeps replacing it. */
const PIN_RACE_ATTEMPTS = 3;

/**
 * tc's pins are shared by every loader of the object: the hint must not send
 * a user to unpin or replace them (that pulls a map from under another loader).
 */
const SHARED_MISMATCH_HINT =
  'tc refuses this too ("Map specification differs from pinned file!"); the pinned map is shared with every other load ' +
  'of objects that pin it: make the definition match it, or load into another bpffs directory (bpffs, --bpffs)';

function checkUniquePaths(spec: ObjectSpec, paths: readonly (string | undefined)[], context: { file: string }): void {
  const seen = new Map<string, string>();
  for (const [index, path] of paths.entries()) {
    if (path === undefined) continue;
    const name = spec.maps[index]!.name;
    const other = seen.get(path);
    if (other !== undefined) throw new LoadError(`maps '${other}' and '${name}' would both be pinned at '${path}'`, context);
    seen.set(path, name);
  }
}

/** tc names an outer map's template by id (`inner_id`), not by position. */
export function innerTemplateIndex(spec: ObjectSpec, map: MapSpec): number {
  const context = { file: spec.file, section: 'maps', map: { index: map.index, name: map.name } };
  const innerId = map.tc?.inner_id ?? 0;
  if (innerId === 0) {
    throw new LoadError('a map-in-map needs inner_id, the id of its inner-map template, and it is 0', context, {
      hint: 'set .inner_id to the .id of the map to use as template',
    });
  }
  const candidates = spec.maps.filter((m) => m.index !== map.index && m.tc?.id === innerId);
  if (candidates.length === 0) {
    throw new LoadError(`no map has id ${innerId}, the inner_id of this map-in-map`, context);
  }
  if (candidates.length > 1) {
    throw new LoadError(
      `maps ${candidates.map((m) => `'${m.name}'`).join(' and ')} all have id ${innerId}: the inner-map template is ambiguous`,
      context,
    );
  }
  return candidates[0]!.index;
}

/** iproute2's rule: a map with an id, no inner_id and an inner_idx goes into every outer map naming that id. */
export function innerInsertions(spec: ObjectSpec): { inner: MapSpec; outer: MapSpec; slot: number }[] {
  const insertions: { inner: MapSpec; outer: MapSpec; slot: number }[] = [];
  for (const inner of spec.maps) {
    const tc = inner.tc;
    if (!tc || tc.id === 0 || tc.inner_id !== 0 || tc.inner_idx === NO_INNER_IDX) continue;
    for (const outer of spec.maps) {
      if (outer.index === inner.index || !isMapInMapType(outer.def.type) || outer.tc?.inner_id !== tc.id) continue;
      insertions.push({ inner, outer, slot: tc.inner_idx });
    }
  }
  return insertions;
}

/**
 * Insert inner maps into outer maps; returns the inner maps a shared outer map
 * held before, kept open so a failed load can put them back (the slot was
 * their last reference): close them once the load succeeded.
 */
function insertInnerMaps(spec: ObjectSpec, maps: readonly BpfMap[], reused: ReadonlySet<number>, cleanup: Cleanup): BpfMap[] {
  const displaced: BpfMap[] = [];
  const written = new Set<BpfMap>();
  for (const { inner, outer, slot } of innerInsertions(spec)) {
    const outerMap = maps[outer.index]!;
    const innerMap = maps[inner.index]!;
    const context = { file: spec.file, section: 'maps', map: { index: outer.index, name: outer.name } };
    if (!written.has(outerMap)) {
      // element operations allocate scratch memory that only BpfMap.close() frees (the loader's
      // own cleanup closes just the fd); registered first, so it runs after restoreSlot below
      written.add(outerMap);
      cleanup.add(() => outerMap.close());
    }
    if (outerMap.def.key_size !== 4) {
      throw new LoadError(
        `cannot insert map '${inner.name}' at inner_idx ${slot}: the outer map's key_size is ${outerMap.def.key_size}, tc's index is a 4-byte key`,
        context,
      );
    }
    // a shared (reused) outer map gets its slot back if this load fails
    if (reused.has(outer.index)) {
      const previous = outerMap.openInner(slot);
      if (previous) displaced.push(previous);
      cleanup.add(restoreSlot(outerMap, slot, previous));
    }
    try {
      outerMap.setInner(slot, innerMap, BPF_ANY);
    } catch (cause) {
      const max = outerMap.def.max_entries;
      const hint = outerMap.def.type === BPF_MAP_TYPE.ARRAY_OF_MAPS && slot >= max
        ? `the outer map has ${max} elements, index ${slot} is out of range`
        : "the inner map does not match the outer map's template (type, key/value size, flags)";
      // the kernel's refusal itself, so the errno reaches the LoadError (and the CLI's exit status)
      const syscallError = cause instanceof Error && cause.cause instanceof SyscallError ? cause.cause : cause;
      throw new LoadError(`cannot insert map '${inner.name}' into map-in-map at inner_idx ${slot}`, context, {
        cause: syscallError,
        hint,
      });
    }
  }
  return displaced;
}

/** Put back the inner map a slot held before, or empty the slot. */
function restoreSlot(outer: BpfMap, slot: number, previous: BpfMap | undefined): () => void {
  return () => {
    if (!previous) {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(slot);
      outer.delete(key);
      return;
    }
    try {
      outer.setInner(slot, previous, BPF_ANY);
    } finally {
      previous.close();
    }
  };
}
