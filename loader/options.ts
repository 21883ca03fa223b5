import type { MapConvention, MapDef } from '../elf/index.js';
import { argumentError, checkBoolean, checkInteger, checkOneOf, checkOptions, checkString } from './errors.js';

/** What `fixupMap` sees, like bpf_load.c's struct bpf_map_data. */
export interface MapData {
  readonly index: number;
  readonly name: string;
  /** offset of the definition in the `maps` section */
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


export interface LoadOptions {
  /** which struct the `maps` section holds: `samples` (bpf_map_def, default) or `tc` (iproute2 bpf_elf_map) */
  convention?: MapConvention;
  /** like load_bpf_file_fixup_map(): edit a map's def, or hand in an existing fd, before it is created */
  fixupMap?: FixupMap;
  /** called with things worth knowing that did not stop the load (skipped sections…); default: ignored */
  onWarning?: (message: string) => void;

  // programs
  /** load only these programs (section or function names), or those the predicate accepts */
  programs?: readonly string[] | ((program: { section: string; name: string }) => boolean);
  /**
   * the type of programs whose section name says none (tc's free names like `ingress`, its `<id>/<key>`
   * tail calls, a section named in `programs`): tc's `cls` (sched_cls, the tc convention's default) or
   * `act` (sched_act), or any program type name (`lwt_xmit`…). Sections with a known prefix keep theirs.
   */
  programType?: string;
  /** attach what the section name says how to (tracepoints, raw tracepoints, kprobes), as bpf_load.c did; the attachments land in `object.attachments` */
  attach?: boolean;
  /** verifier log level for every load (1 or 2): the log is kept on each program even when it loads */
  logLevel?: number;
  /** kern_version for BPF_PROG_LOAD when the object has no `version` section (default: the running kernel's) */
  kernVersion?: number;

  // pinning
  /**
   * pin every map at DIR/maps/<name> and every program at DIR/progs/<name> (on bpffs; mounted at
   * /sys/fs/bpf when nothing is). A failed load removes the pins it made and puts back those it replaced.
   */
  pinDir?: string;
  /** replace pins that already exist instead of refusing (with reusePinned: those that cannot be reused, and programs) */
  force?: boolean;
  /** reuse a map already pinned under pinDir when type, key/value size, max_entries and flags match; a mismatch is an error */
  reusePinned?: boolean;
  /** the object file's bytes, for loadBpfObject(spec) of a tc object with PIN_OBJECT_NS maps (their directory is named by its SHA-1) */
  objectBytes?: Uint8Array;
  /** bpffs directory for the tc convention's pins: <bpffs>/tc/globals, <bpffs>/tc/<sha1> (default /sys/fs/bpf) */
  bpffs?: string;
}

/** Every option by name: a Record, so an option added to LoadOptions and not here fails to compile. */
const LOAD_OPTION_KEYS: Record<keyof LoadOptions, true> = {
  convention: true, fixupMap: true, onWarning: true, programs: true, programType: true, attach: true, logLevel: true,
  kernVersion: true, pinDir: true, force: true, reusePinned: true, objectBytes: true, bpffs: true,
};
const LOAD_OPTION_NAMES = Object.keys(LOAD_OPTION_KEYS);

/**
 * Every option of a load checked before anything happens: a misspelt or
 * mistyped option is an error naming it (code BPF_LOAD_ARGUMENT), never
 * silently ignored or coerced.
 */
export function checkLoadOptions(options: unknown, where: string): asserts options is LoadOptions {
  checkOptions(options, LOAD_OPTION_NAMES, where);
  const o = (options ?? {}) as Record<string, unknown>;
  checkOneOf(o['convention'], ['samples', 'tc'], 'options.convention', where);
  for (const name of ['fixupMap', 'onWarning'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'function') throw argumentError(where, `options.${name}`, 'a function', o[name]);
  }
  const programs = o['programs'];
  if (programs !== undefined && typeof programs !== 'function' &&
      !(Array.isArray(programs) && programs.every((p) => typeof p === 'string' && p !== ''))) {
    throw argumentError(where, 'options.programs', 'an array of program names or a predicate function', programs);
  }
  for (const name of ['attach', 'force', 'reusePinned'] as const) checkBoolean(o[name], `options.${name}`, where);
  if (o['logLevel'] !== undefined) checkInteger(o['logLevel'], 'options.logLevel', where, 1, 7);
  if (o['kernVersion'] !== undefined) checkInteger(o['kernVersion'], 'options.kernVersion', where, 0, 0xffffffff);
  if (o['pinDir'] !== undefined) checkString(o['pinDir'], 'options.pinDir', where);
  if (o['bpffs'] !== undefined) checkString(o['bpffs'], 'options.bpffs', where);
  if (o['programType'] !== undefined) checkString(o['programType'], 'options.programType', where);
  if (o['objectBytes'] !== undefined && !(o['objectBytes'] instanceof Uint8Array)) {
    throw argumentError(where, 'options.objectBytes', 'a Uint8Array', o['objectBytes']);
  }
}
