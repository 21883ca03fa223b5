import type { MapConvention } from '../elf/index.js';
import { LoadError, argumentError, checkBoolean, checkInteger, checkOneOf, checkOptions, checkString } from './errors.js';

/**
 * A map as samples/bpf's struct bpf_load_map_def spelled it: what
 * `BpfMap.def` shows and what a `fixupMap` callback edits.
 */
export interface MapDef {
  type: number;
  key_size: number;
  value_size: number;
  max_entries: number;
  map_flags: number;
  /** map-in-map: the template's position in map_fd[] */
  inner_map_idx: number;
  numa_node: number;
}

/** An open map handed to a load (a BpfMap is one): the load duplicates its fd. */
export interface OpenMap {
  readonly fd: number;
  readonly name: string;
}

/** What `fixupMap` sees, like bpf_load.c's struct bpf_map_data. */
export interface MapData {
  readonly index: number;
  readonly name: string;
  /** offset of the definition in the `maps` section (-1 for a map added to the spec) */
  readonly elfOffset: number;
  /** a copy the callback may edit before the map is created */
  def: MapDef;
  /**
   * -1: create the map. Set it to an existing map fd (e.g. from openPinnedMap or
   * BPF_OBJ_GET) to use that map instead; the object keeps its own duplicate,
   * so the caller still owns and closes the fd it handed in.
   */
  fd: number;
}

export type FixupMap = (map: MapData, index: number) => void;

/** Which programs to load: names (function or section), or a predicate. */
export type ProgramSelection = readonly string[] | ((program: { section: string; name: string }) => boolean);

/** How the object's file is read into a spec (readObjectSpec, and loadBpfFile's reading half). */
export interface ReadOptions {
  /** which struct the `maps` section holds: `samples` (bpf_map_def, default) or `tc` (iproute2 bpf_elf_map) */
  convention?: MapConvention;
  /** executable sections to read as programs although their names carry no known prefix */
  sections?: readonly string[];
}

/** Options about the maps of a load. */
export interface MapLoadOptions {
  /**
   * Maps to use instead of creating them, by name: an open BpfMap (or a map fd)
   * whose type, key and value size match the spec. The object keeps its own
   * duplicate: the caller's map stays the caller's.
   */
  replace?: Readonly<Record<string, OpenMap | number>>;
  /** like load_bpf_file_fixup_map(): sugar over editing a copy of the spec before the load */
  fixup?: FixupMap;
}

/** Options about the programs of a load. */
export interface ProgramLoadOptions {
  /** load only these programs (section or function names), or those the predicate accepts */
  select?: ProgramSelection;
  /**
   * the type of programs whose section name says none (tc's free names, its `<id>/<key>` tail calls, a
   * section named in `select`): tc's `cls` (sched_cls, the tc convention's default) or `act` (sched_act),
   * or any program type name (`lwt_xmit`…). Sections with a known prefix keep theirs.
   */
  type?: string;
  /** verifier log level for every load (1 or 2): the log is kept on each program even when it loads */
  logLevel?: number;
  /** kern_version for BPF_PROG_LOAD when the object has no `version` section (default: the running kernel's) */
  kernVersion?: number;
  /** attach what the section name says how to (tracepoints, raw tracepoints, kprobes), as bpf_load.c did */
  attach?: boolean;
  /**
   * the loaded program each `freplace/FUNC` program extends, by program (or section) name: an open
   * program (a BpfProgram of any object), a program fd, the path of a pinned program, or `{ id }`
   */
  freplaceTargets?: Readonly<Record<string, FreplaceTarget>>;
}

/** A loaded program an freplace program extends: open (anything with its `fd`), an fd, a pin path, or a program id. */
export type FreplaceTarget = { readonly fd: number } | number | string | { readonly id: number };

/** Options about the pins of a load. */
export interface PinningLoadOptions {
  /**
   * pin every map at DIR/maps/<name> and every program at DIR/progs/<name> (on bpffs; mounted at
   * /sys/fs/bpf when nothing is). A failed load removes the pins it made and puts back those it replaced.
   */
  dir?: string;
  /** replace pins that already exist instead of refusing (with reuse: those that cannot be reused, and programs) */
  force?: boolean;
  /** reuse a map already pinned under dir when type, key/value size, max_entries and flags match; a mismatch is an error */
  reuse?: boolean;
  /** bpffs directory for the tc convention's pins: <bpffs>/tc/globals, <bpffs>/tc/<sha1> (default /sys/fs/bpf) */
  bpffs?: string;
  /**
   * where maps defined with `pinning = LIBBPF_PIN_BY_NAME` are pinned, at <root>/<name> (libbpf's
   * pin_root_path; default /sys/fs/bpf). A compatible map pinned there is reused; another is refused.
   */
  root?: string;
}

/**
 * Options of loadObject(spec): grouped by what they are about. The flat names
 * of earlier releases (fixupMap, programs as a list, programType, attach,
 * logLevel, kernVersion, pinDir, force, reusePinned, bpffs) are still taken;
 * one option given both ways is refused.
 */
export interface LoadObjectOptions {
  maps?: MapLoadOptions;
  programs?: ProgramLoadOptions | ProgramSelection;
  pinning?: PinningLoadOptions;
  /** global variables set before the load, by name (a copy of the spec is edited): `{ filter_pid: 42 }` */
  variables?: Readonly<Record<string, unknown>>;
  /** called with things worth knowing that did not stop the load (skipped sections…); default: ignored */
  onWarning?: (message: string) => void;
  /**
   * a BTF file (raw, btfhub-style, or an ELF with .BTF) standing in for the running kernel's BTF
   * (CO-RE, externs, BTF attach targets) on kernels without /sys/kernel/btf/vmlinux
   */
  btfPath?: string;

  /** = maps.fixup */
  fixupMap?: FixupMap;
  /** = programs.type */
  programType?: string;
  /** = programs.attach */
  attach?: boolean;
  /** = programs.logLevel */
  logLevel?: number;
  /** = programs.kernVersion */
  kernVersion?: number;
  /** = pinning.dir */
  pinDir?: string;
  /** = pinning.force */
  force?: boolean;
  /** = pinning.reuse */
  reusePinned?: boolean;
  /** = pinning.bpffs */
  bpffs?: string;
}

/** loadBpfFile(path, options): how to read the file, and how to load it. */
export interface LoadOptions extends LoadObjectOptions, ReadOptions {}

/** A load's options, checked and in one shape. */
export interface LoadSettings {
  replace: ReadonlyMap<string, OpenMap | number>;
  fixupMap: FixupMap | undefined;
  select: ProgramSelection | undefined;
  programType: string | undefined;
  logLevel: number | undefined;
  kernVersion: number | undefined;
  attach: boolean;
  pinDir: string | undefined;
  force: boolean;
  reuse: boolean;
  bpffs: string | undefined;
  pinRoot: string;
  variables: Readonly<Record<string, unknown>> | undefined;
  onWarning: ((message: string) => void) | undefined;
  btfPath: string | undefined;
  freplaceTargets: ReadonlyMap<string, FreplaceTarget>;
}

const LOAD_OBJECT_KEYS: Record<keyof LoadObjectOptions, true> = {
  maps: true, programs: true, pinning: true, variables: true, onWarning: true, fixupMap: true, programType: true, attach: true, logLevel: true,
  kernVersion: true, pinDir: true, force: true, reusePinned: true, bpffs: true, btfPath: true,
};
const READ_KEYS: Record<keyof ReadOptions, true> = { convention: true, sections: true };
const MAP_KEYS: Record<keyof MapLoadOptions, true> = { replace: true, fixup: true };
const PROGRAM_KEYS: Record<keyof ProgramLoadOptions, true> = {
  select: true, type: true, logLevel: true, kernVersion: true, attach: true, freplaceTargets: true,
};
const PINNING_KEYS: Record<keyof PinningLoadOptions, true> = { dir: true, force: true, reuse: true, bpffs: true, root: true };

/** Options a call cannot use, and what to do instead: refused by name rather than ignored. */
const MISPLACED: Readonly<Record<string, string>> = {
  convention: 'the convention is how the file is read: parse with it (readObjectSpec(path, { convention }) or parseObject(bytes, { convention }))',
  sections: 'sections are chosen when the file is read: readObjectSpec(path, { sections })',
  objectBytes: "tc's object directory is named by spec.sourceHash: readObjectSpec and bpf-load's parseObject set it",
};

export function checkReadOptions(options: unknown, where: string): asserts options is ReadOptions {
  checkOptions(options, Object.keys(READ_KEYS), where);
  const o = (options ?? {}) as Record<string, unknown>;
  checkOneOf(o['convention'], ['samples', 'tc'], 'options.convention', where);
  const sections = o['sections'];
  if (sections !== undefined && !(Array.isArray(sections) && sections.every((s) => typeof s === 'string'))) {
    throw argumentError(where, 'options.sections', 'an array of section names', sections);
  }
}

/**
 * Every option of a load checked and normalised before anything happens: a
 * misspelt, mistyped or misplaced option is an error naming it (code
 * BPF_LOAD_ARGUMENT), never silently ignored or coerced.
 */
export function loadSettings(options: unknown, where: string, convention: MapConvention): LoadSettings {
  if (options === undefined || isEmptyPlainObject(options)) return DEFAULT_SETTINGS;
  const o = (options ?? {}) as Record<string, unknown>;
  for (const [name, why] of Object.entries(MISPLACED)) {
    if (o[name] !== undefined) {
      throw new LoadError(`${where}: options.${name} is not an option of this call: ${why}`, {}, { code: 'BPF_LOAD_ARGUMENT' });
    }
  }
  checkOptions(options, Object.keys(LOAD_OBJECT_KEYS), where);
  const group = (name: 'maps' | 'pinning', keys: Record<string, true>): Record<string, unknown> => {
    const value = o[name];
    if (value === undefined) return {};
    checkOptions(value, Object.keys(keys), where, `options.${name}`);
    return value as Record<string, unknown>;
  };
  const maps = group('maps', MAP_KEYS);
  const pinning = group('pinning', PINNING_KEYS);
  const programsOption = o['programs'];
  const programsGroup = typeof programsOption === 'object' && programsOption !== null && !Array.isArray(programsOption);
  if (programsGroup) checkOptions(programsOption, Object.keys(PROGRAM_KEYS), where, 'options.programs');
  const programs = (programsGroup ? programsOption : {}) as Record<string, unknown>;

  /** One setting given by its grouped name or by its flat one, not both. */
  const either = (grouped: Record<string, unknown>, key: string, groupName: string, flat: string): unknown => {
    if (grouped[key] !== undefined && o[flat] !== undefined) {
      throw argumentError(where, `options.${flat}`, `given once (options.${groupName}.${key} gives it too)`, o[flat]);
    }
    return grouped[key] ?? o[flat];
  };
  const fixupMap = either(maps, 'fixup', 'maps', 'fixupMap');
  const select = programsGroup ? programs['select'] : programsOption;
  const programType = either(programs, 'type', 'programs', 'programType');
  const attach = either(programs, 'attach', 'programs', 'attach');
  const logLevel = either(programs, 'logLevel', 'programs', 'logLevel');
  const kernVersion = either(programs, 'kernVersion', 'programs', 'kernVersion');
  const pinDir = either(pinning, 'dir', 'pinning', 'pinDir');
  const force = either(pinning, 'force', 'pinning', 'force');
  const reuse = either(pinning, 'reuse', 'pinning', 'reusePinned');
  const bpffs = either(pinning, 'bpffs', 'pinning', 'bpffs');

  for (const [name, value] of [['fixupMap', fixupMap], ['onWarning', o['onWarning']]] as const) {
    if (value !== undefined && typeof value !== 'function') throw argumentError(where, `options.${name}`, 'a function', value);
  }
  if (select !== undefined && typeof select !== 'function' &&
      !(Array.isArray(select) && select.length > 0 && select.every((p) => typeof p === 'string' && p !== ''))) {
    throw argumentError(where, 'options.programs', 'a non-empty array of program names or a predicate function', select);
  }
  checkBoolean(attach, 'options.attach', where);
  checkBoolean(force, 'options.force', where);
  checkBoolean(reuse, 'options.reusePinned', where);
  if (logLevel !== undefined) checkInteger(logLevel, 'options.logLevel', where, 1, 7);
  if (kernVersion !== undefined) checkInteger(kernVersion, 'options.kernVersion', where, 0, 0xffffffff);
  if (pinDir !== undefined) checkString(pinDir, 'options.pinDir', where);
  if (bpffs !== undefined) checkString(bpffs, 'options.bpffs', where);
  const pinRoot = pinning['root'];
  if (pinRoot !== undefined) checkString(pinRoot, 'options.pinning.root', where);
  if (o['btfPath'] !== undefined) checkString(o['btfPath'], 'options.btfPath', where);
  const variables = o['variables'];
  if (variables !== undefined && (typeof variables !== 'object' || variables === null || Array.isArray(variables))) {
    throw argumentError(where, 'options.variables', 'an object of variable values by name', variables);
  }
  if (programType !== undefined) checkString(programType, 'options.programType', where);
  // options that mean something only with another: refused alone, as the CLI refuses them
  if (reuse && pinDir === undefined) {
    throw argumentError(where, 'options.reusePinned', 'given with pinDir (it reuses maps pinned there)', reuse);
  }
  if (force && pinDir === undefined && convention !== 'tc') {
    throw argumentError(where, 'options.force', 'given with pinDir or a tc-convention spec (it replaces existing pins)', force);
  }
  if (bpffs !== undefined && convention !== 'tc') {
    throw argumentError(where, 'options.bpffs', "given for a tc-convention spec only (it says where tc's pins go; pinDir names the directory for the others)", bpffs);
  }
  const replace = new Map<string, OpenMap | number>();
  const replaceOption = maps['replace'];
  if (replaceOption !== undefined) {
    if (typeof replaceOption !== 'object' || replaceOption === null || Array.isArray(replaceOption)) {
      throw argumentError(where, 'options.maps.replace', 'an object of open maps by map name', replaceOption);
    }
    for (const [name, map] of Object.entries(replaceOption)) {
      const isMap = typeof map === 'object' && map !== null && typeof (map as { fd?: unknown }).fd === 'number';
      if (!isMap && !(typeof map === 'number' && Number.isInteger(map) && map >= 0)) {
        throw argumentError(where, `options.maps.replace.${name}`, 'an open BpfMap or a map fd', map);
      }
      replace.set(name, map as OpenMap | number);
    }
  }
  const freplaceTargets = new Map<string, FreplaceTarget>();
  const targetsOption = programs['freplaceTargets'];
  if (targetsOption !== undefined) {
    if (typeof targetsOption !== 'object' || targetsOption === null || Array.isArray(targetsOption)) {
      throw argumentError(where, 'options.programs.freplaceTargets', 'an object of target programs by freplace program name', targetsOption);
    }
    for (const [name, target] of Object.entries(targetsOption)) {
      const field = (key: string): unknown => (typeof target === 'object' && target !== null ? (target as Record<string, unknown>)[key] : undefined);
      const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
      if (!(isCount(target) || (typeof target === 'string' && target !== '') || isCount(field('fd')) || isCount(field('id')))) {
        throw argumentError(where, `options.programs.freplaceTargets.${name}`, 'an open BpfProgram, a program fd, a pin path or { id }', target);
      }
      freplaceTargets.set(name, target as FreplaceTarget);
    }
  }
  return {
    replace,
    freplaceTargets,
    fixupMap: fixupMap as FixupMap | undefined,
    select: select as ProgramSelection | undefined,
    programType: programType as string | undefined,
    logLevel: logLevel as number | undefined,
    kernVersion: kernVersion as number | undefined,
    attach: attach === true,
    pinDir: pinDir as string | undefined,
    force: force === true,
    reuse: reuse === true,
    bpffs: bpffs as string | undefined,
    pinRoot: (pinRoot as string | undefined) ?? '/sys/fs/bpf',
    variables: variables as Readonly<Record<string, unknown>> | undefined,
    onWarning: o['onWarning'] as ((message: string) => void) | undefined,
    btfPath: o['btfPath'] as string | undefined,
  };
}

const NONE: ReadonlyMap<string, never> = new Map<string, never>();

/** What a load without options does: one frozen object shared by every such load, which reads it and never writes it. */
const DEFAULT_SETTINGS: LoadSettings = Object.freeze({
  replace: NONE, freplaceTargets: NONE, fixupMap: undefined, select: undefined, programType: undefined, logLevel: undefined,
  kernVersion: undefined, attach: false, pinDir: undefined, force: false, reuse: false, bpffs: undefined, pinRoot: '/sys/fs/bpf',
  variables: undefined, onWarning: undefined, btfPath: undefined,
});

/** `{}` (or an object with no prototype and no keys): no property a load reads can be there, own or inherited. */
export function isEmptyPlainObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  for (const _ in value) return false;
  return true;
}
