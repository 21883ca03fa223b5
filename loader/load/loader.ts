import { dirname } from 'node:path';
import { mapOrder, type MapSpec, type ObjectSpec, type ProgramSpec } from '../../elf/index.js';
import { isMapInMapType, type BpfFd } from '../../syscall/index.js';
import { attachAutomatic } from '../attach/auto.js';
import { pathExists } from '../bpffs/bpffs.js';
import { recordPin } from '../bpffs/pinRecord.js';
import { Cleanup } from '../cleanup.js';
import { LoadError, type LoadErrorContext } from '../errors.js';
import { BpfMap } from '../maps/bpfMap.js';
import { setMapBtf } from '../maps/mapBtf.js';
import type { LoadSettings } from '../options.js';
import { planDirectoryPins, uniquePinNames, type DirectoryPins } from '../pinning/directoryLayout.js';
import { PinLedger } from '../pinning/pinLedger.js';
import { openCompatiblePinnedMap } from '../pinning/reusePinnedMap.js';
import { planTcPins, SHARED_MISMATCH_HINT } from '../pinning/tcLayout.js';
import type { BpfProgram } from '../programs/bpfProgram.js';
import { BpfObject, type Closeable } from './bpfObject.js';
import { adoptReplacement, createMap, defOf } from './createMap.js';
import { dupFd } from './dupFd.js';
import { fillMapContents, fillTailCalls } from './fillContents.js';
import { loadProgram } from './loadPrograms.js';
import { localBtfOf } from './coreStep.js';
import { loadObjectBtf } from './objectBtf.js';
import { bindRodata, fillProgramContents, writeInitialValue } from './dataMaps.js';
import { programTypeOf } from './programType.js';
import { resolvedExternsOf } from './externStep.js';

const NO_PINS: ReadonlyMap<string, string> = new Map<string, string>();
const NO_NAMES: ReadonlySet<string> = new Set<string>();
const NO_MAPS: readonly BpfMap[] = [];

/**
 * Whether anything is written once the programs are loaded: a read-only data map to bind, a
 * tail-call slot, a map's program or map contents. One look over the spec, so that the many
 * objects with none of these enter none of the steps that write them.
 */
function fillsAnything(order: readonly MapSpec[], programs: readonly ProgramSpec[]): boolean {
  for (const map of order) if (map.source.kind === 'data' || map.contents || map.programContents) return true;
  for (const program of programs) if (program.tailCall) return true;
  return false;
}

/** Two loads racing for one pin settle it in one retry; more means something keeps replacing it. */
const PIN_RACE_ATTEMPTS = 3;

const BY_NAME_MISMATCH_HINT = 'unpin it (or give another pinning root) if the map pinned there is not this object\'s';

const DIRECTORY_MISMATCH_HINT = 'unpin it, load without --reuse-pinned and with --force to replace it, or fix the definition';

/**
 * One load of a validated spec, in explicit steps:
 *
 *   plan pins → for each map (map_fd[] order, a template before its outer map):
 *   replace | reuse a pin | create (tc: pin at once) → load programs (prog_fd[] order)
 *   → fill contents (tail-call slots, inner maps) → pin (pinDir) → attach → commit
 *
 * Every fd, pin and slot it makes is registered with one Cleanup: a failure
 * anywhere undoes all of it, and the caller gets the error.
 */
export class Loader {
  readonly #cleanup = new Cleanup();
  /** made by the first step that pins: most loads pin nothing */
  #pinLedger: PinLedger | undefined;
  readonly #order: MapSpec[];
  /** map_fd[] positions by name, made for the first template or message that needs one */
  #index: Map<string, number> | undefined;
  readonly #live = new Map<string, BpfMap>();
  readonly #inProgress: string[] = [];
  /**
   * maps found pinned and used as they are: never pinned again, and a shared outer map's slots are restored on failure;
   * these sets and #byNamePins are made by the first map that needs them (most loads pin and reuse nothing)
   */
  #reused: Set<string> | undefined;
  #reusedFromDirectory: Set<string> | undefined;
  #tcPins: ReadonlyMap<string, string> = NO_PINS;
  #directoryPins: DirectoryPins | undefined;
  /** the object's BTF in the kernel (0: none); maps and programs hold their own references to it */
  #btfFd = 0;
  /** the `.kconfig` map's value on this kernel (objects with kconfig externs) */
  #kconfig: Uint8Array | undefined;
  /** libbpf's pins by name: map name → path, and the maps found there and reused */
  #byNamePins: Map<string, string> | undefined;

  constructor(
    private readonly spec: ObjectSpec,
    private readonly programs: readonly ProgramSpec[],
    private readonly settings: LoadSettings,
    /** the spec's maps in map_fd[] order (mapOrder) */
    order: MapSpec[] = mapOrder(spec),
  ) {
    this.#order = order;
  }

  run(): BpfObject {
    try {
      // every type first: a load that cannot type one of its programs is refused before the kernel sees any
      const types: number[] = [];
      // (a typed section keeps its own: programTypeOf is entered only for the untyped ones it has rules for)
      for (const program of this.programs) types.push(program.kind !== 'untyped' ? program.type : programTypeOf(this.spec, program, this.settings));
      this.#planPins();
      // legacy objects have no BTF, and so no externs either
      const btf = this.spec.btf ? loadObjectBtf(this.spec, this.settings.onWarning, this.programs) : undefined;
      if (btf) {
        this.#cleanup.addClose(btf);
        this.#btfFd = btf.fd;
      }
      if (this.spec.btf) this.#kconfig = resolvedExternsOf(this.spec, this.settings)?.kconfig;
      const maps: BpfMap[] = [];
      for (let i = 0; i < this.#order.length; i++) maps.push(this.#map(this.#order[i]!.name, i));
      const fdOf = (name: string): number => this.#live.get(name)!.fd;
      const programs: BpfProgram[] = [];
      for (let i = 0; i < this.programs.length; i++) {
        const program = loadProgram(this.spec, this.programs[i]!, types[i]!, i, fdOf, this.settings, this.#btfFd);
        this.#cleanup.addClose(program);
        programs.push(program);
      }
      let displaced: readonly BpfMap[] = NO_MAPS;
      if (fillsAnything(this.#order, this.programs)) {
        bindRodata(this.#order, this.#live, programs);
        fillTailCalls(this.spec, this.#live, this.programs, programs);
        fillProgramContents(this.spec, this.#order, this.#live, this.programs, programs);
        displaced = fillMapContents(this.#order, this.#live, this.#reused ?? NO_NAMES, (m) => this.#context(m), this.#cleanup);
      }
      // pins are touched only once every map and program exists: a refused program leaves them as they were,
      // and the window in which an uncatchable SIGKILL can leave a mixed set is the pinning alone
      this.#pin(maps, programs);
      const attachments: Closeable[] = this.settings.attach ? attachAutomatic(programs, this.#cleanup, this.spec.file) : [];
      this.#cleanup.disarm();
      this.#pinLedger?.commit();
      for (const map of displaced) map.close();
      btf?.close();
      return new BpfObject(this.spec, maps, programs, attachments);
    } catch (error) {
      const undoErrors = this.#cleanup.run();
      if (undoErrors.length && error instanceof Error) {
        (error as Error & { cleanupErrors?: unknown[] }).cleanupErrors = undoErrors;
      }
      throw error;
    }
  }

  get #ledger(): PinLedger {
    return this.#pinLedger ??= new PinLedger(this.#cleanup);
  }

  #context(map: MapSpec): LoadErrorContext {
    return { file: this.spec.file, section: 'maps', map: { index: this.#indexOf(map.name) ?? -1, name: map.name } };
  }

  #indexOf(name: string): number | undefined {
    this.#index ??= new Map(this.#order.map((m, i) => [m.name, i]));
    return this.#index.get(name);
  }

  /** Where the load pins what, from the spec (`pinning`) and the options (pinDir); refusals come before any map exists. */
  #planPins(): void {
    const { spec, settings } = this;
    if (spec.convention === 'tc' && this.#order.length > 0) {
      this.#tcPins = planTcPins(spec, this.#order, settings.bpffs, this.#ledger, settings.onWarning);
    }
    if (settings.pinDir !== undefined) {
      this.#directoryPins = planDirectoryPins(
        spec, this.#order, this.programs,
        { dir: settings.pinDir, force: settings.force, reuse: settings.reuse, allPrograms: settings.select === undefined },
        settings.onWarning,
      );
    }
  }

  /** One map: replace | reuse a pin | create. A map-in-map's template comes first, whatever its place in map_fd[]. */
  #map(name: string, index: number = this.#indexOf(name)!): BpfMap {
    const done = this.#live.get(name);
    if (done) return done;
    const spec = this.spec.maps[name]!;
    const context: LoadErrorContext = { file: this.spec.file, section: 'maps', map: { index, name } };
    if (this.#inProgress.includes(name)) {
      const cycle = [...this.#inProgress.slice(this.#inProgress.indexOf(name)), name].map((n) => `'${n}'`);
      throw new LoadError(`map-in-map inner-map templates form a cycle: ${cycle.join(' -> ')}`, context);
    }
    this.#inProgress.push(name);
    // a map handed in or found pinned needs a replacement, a pin planned or libbpf's pin by name
    const mayExist = this.settings.replace.size > 0 || this.#tcPins.size > 0 || this.#directoryPins !== undefined || spec.pinning === 'byName';
    const existing = mayExist ? this.#replacement(spec, context) ?? this.#pinned(spec, context) : undefined;
    const { owner, live } = existing ?? this.#create(spec, context);
    this.#cleanup.addClose(owner);
    const offset = spec.source.kind === 'maps' ? spec.source.offset : -1;
    const innerIndex = spec.innerMap === undefined ? 0 : this.#indexOf(spec.innerMap) ?? 0;
    const map = new BpfMap(owner, name, Object.freeze(defOf(live, innerIndex)), index, offset);
    const objectSpec = this.spec;
    if (spec.btf && objectSpec.btf) setMapBtf(map, { btf: () => localBtfOf(objectSpec), ...spec.btf });
    this.#live.set(name, map);
    this.#inProgress.pop();
    return map;
  }

  /** An open map the caller handed in (maps.replace, fixupMap's fd), duplicated: the caller's stays the caller's. */
  #replacement(spec: MapSpec, context: LoadErrorContext): { owner: BpfFd; live: MapSpec } | undefined {
    const handedIn = this.settings.replace.get(spec.name);
    if (handedIn === undefined) return undefined;
    const fd = typeof handedIn === 'number' ? handedIn : handedIn.fd;
    const label = typeof handedIn === 'number' ? `fd ${fd}` : `map '${handedIn.name}' (fd ${fd})`;
    const owner = dupFd(fd, context, 'use the map handed in');
    try {
      return { owner, live: adoptReplacement(owner, label, spec, context) };
    } catch (error) {
      owner.close();
      throw error;
    }
  }

  /** A compatible map already pinned where this load would pin it (tc's shared maps; pinDir with reuse). */
  #pinned(spec: MapSpec, context: LoadErrorContext): { owner: BpfFd; live: MapSpec } | undefined {
    const { force, reuse, onWarning } = this.settings;
    if (spec.pinning === 'byName') {
      // libbpf's pin by name: a compatible map already there is the one to use; another is refused
      const path = `${this.settings.pinRoot.replace(/\/+$/, '')}/${spec.name}`;
      (this.#byNamePins ??= new Map()).set(spec.name, path);
      if (pathExists(path)) {
        const owner = openCompatiblePinnedMap(path, spec, context, false, BY_NAME_MISMATCH_HINT, onWarning);
        if (owner) {
          (this.#reused ??= new Set()).add(spec.name);
          return { owner, live: spec };
        }
      }
    }
    const tcPath = this.#tcPins.get(spec.name);
    if (tcPath !== undefined) {
      const owner = openCompatiblePinnedMap(tcPath, spec, context, force, SHARED_MISMATCH_HINT, onWarning);
      if (owner) {
        (this.#reused ??= new Set()).add(spec.name);
        return { owner, live: spec };
      }
    }
    const directoryPath = this.#directoryPins?.maps.get(spec.name);
    if (directoryPath !== undefined && reuse) {
      const owner = openCompatiblePinnedMap(directoryPath, spec, context, force, DIRECTORY_MISMATCH_HINT, onWarning);
      if (owner) {
        (this.#reusedFromDirectory ??= new Set()).add(spec.name);
        return { owner, live: spec };
      }
    }
    return undefined;
  }

  #create(spec: MapSpec, context: LoadErrorContext): { owner: BpfFd; live: MapSpec } {
    let created: BpfFd;
    if (isMapInMapType(spec.type) && spec.innerMap === undefined && spec.innerTemplate) {
      // an inline template (BTF __array(values, …)) lives only as long as the outer map's creation
      const template = createMap(
        { name: `${spec.name}.inner`, pinning: 'none', source: { kind: 'added' }, ...spec.innerTemplate }, 0, context,
      );
      try {
        created = createMap(spec, template.fd, context, this.#btfFd);
      } finally {
        template.close();
      }
    } else {
      const innerMapFd = isMapInMapType(spec.type) ? this.#map(spec.innerMap!).fd : 0;
      created = createMap(spec, innerMapFd, context, this.#btfFd);
    }
    // the `.kconfig` map holds the kernel's values, resolved for this load
    const kconfig = spec.source.kind === 'data' && spec.source.section === '.kconfig' ? this.#kconfig : undefined;
    if (spec.initialValue) writeInitialValue(kconfig ? { ...spec, initialValue: kconfig } : spec, created, context);
    const tcPath = this.#tcPins.get(spec.name);
    return { owner: tcPath === undefined ? created : this.#publish(spec, created, tcPath, context), live: spec };
  }

  /**
   * tc's shared maps are pinned as soon as made, so a concurrent load of the
   * same object finds and shares them; when another loader pinned one first,
   * its map is used instead of ours.
   */
  #publish(spec: MapSpec, created: BpfFd, path: string, context: LoadErrorContext): BpfFd {
    try {
      this.#ledger.directories(dirname(path), context);
      for (let attempt = 1; ; attempt++) {
        try {
          this.#ledger.pin(created.fd, path, context, this.settings.force, 'map');
          return created;
        } catch (error) {
          // another loader pinned it between our look and our pin: look again, and share theirs if it matches
          if (attempt >= PIN_RACE_ATTEMPTS || !pathExists(path)) throw error;
          const shared = openCompatiblePinnedMap(path, spec, context, this.settings.force, SHARED_MISMATCH_HINT, this.settings.onWarning);
          if (shared) {
            (this.#reused ??= new Set()).add(spec.name);
            created.close();
            return shared;
          }
        }
      }
    } catch (error) {
      created.close();
      throw error;
    }
  }

  /** pinDir's pins of every map and program; where tc's shared maps are pinned is recorded on them. */
  #pin(maps: readonly BpfMap[], programs: readonly BpfProgram[]): void {
    if (this.#tcPins.size === 0 && this.#byNamePins === undefined && !this.#directoryPins) return;
    for (const map of maps) {
      const path = this.#tcPins.get(map.name);
      if (path !== undefined) recordPin(map, path);
      const byName = this.#byNamePins?.get(map.name);
      if (byName === undefined) continue;
      recordPin(map, byName);
      if (this.#reused?.has(map.name)) continue;
      const context = { file: this.spec.file, map: { index: map.index, name: map.name } };
      this.#ledger.directories(dirname(byName), context);
      this.#ledger.pin(map.fd, byName, context, false, 'map');
    }
    const pins = this.#directoryPins;
    if (!pins) return;
    const context = { file: this.spec.file };
    const force = this.settings.force;
    if (maps.length > 0) {
      this.#ledger.directories(pins.mapsDirectory, context);
      for (const map of maps) {
        const path = pins.maps.get(map.name)!;
        recordPin(map, path);
        if (this.#reusedFromDirectory?.has(map.name)) continue;
        this.#ledger.pin(map.fd, path, { ...context, map: { index: map.index, name: map.name } }, force, 'map');
      }
    }
    if (programs.length === 0) return;
    const names = uniquePinNames(programs.map((p) => p.name), 'program', context, this.settings.onWarning);
    this.#ledger.directories(pins.programsDirectory, context);
    for (const [i, program] of programs.entries()) {
      const path = `${pins.programsDirectory}/${names[i]!}`;
      this.#ledger.pin(program.fd, path, { ...context, program: program.name }, force, 'program');
      recordPin(program, path);
    }
  }
}
