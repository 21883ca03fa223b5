import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PIN_GLOBAL_NS, PIN_NONE, PIN_OBJECT_NS, type MapSpec, type ObjectSpec } from '../../elf/index.js';
import { checkPinComponent, DEFAULT_BPFFS, ensureOnBpffs, pinNameFor } from '../bpffs/bpffs.js';
import { LoadError } from '../errors.js';
import type { PinLedger } from './pinLedger.js';

export { PIN_NONE, PIN_OBJECT_NS, PIN_GLOBAL_NS };

/** Links iproute2 makes next to `tc/` for `ip link ... xdp` and `ip route ... lwt` objects. */
const TC_ALIASES = ['xdp', 'ip'];

/** Where iproute2 looks up custom pinning ids (`id subpath` lines), in order. */
export const PINNING_DATABASES = ['/etc/iproute2/bpf_pinning', '/usr/lib/iproute2/bpf_pinning'];

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
  const pinning = map.pinning;
  const name = pinNameFor(map.name);
  switch (typeof pinning === 'object' ? pinning.custom : pinning === 'none' ? PIN_NONE : pinning === 'object' ? PIN_OBJECT_NS : PIN_GLOBAL_NS) {
    case PIN_NONE:
      return undefined;
    case PIN_OBJECT_NS:
      return join(bpffs, 'tc', hash(), name);
    case PIN_GLOBAL_NS:
      return join(bpffs, 'tc', 'globals', name);
    default: {
      const subpath = customPaths().get((pinning as { custom: number }).custom);
      return subpath === undefined ? undefined : join(bpffs, subpath, name);
    }
  }
}

/**
 * Where the tc convention (iproute2 lib/bpf_legacy.c) pins each map that
 * asks to be pinned (`pinning` 'object', 'global' or a custom id): the load
 * reuses a compatible map pinned there, or creates the map and pins it at
 * once so concurrent loads share it. Makes tc's directories (tc/globals and
 * the xdp, ip links) through the ledger, as tc does whenever it pins.
 */
export function planTcPins(
  spec: ObjectSpec,
  maps: readonly MapSpec[],
  bpffsOption: string | undefined,
  ledger: PinLedger,
  warn: ((message: string) => void) | undefined,
): Map<string, string> {
  const bpffs = resolve(bpffsOption ?? DEFAULT_BPFFS);
  const context = { file: spec.file, section: 'maps' };
  const objectDirectoryName = (): string => {
    if (spec.sourceHash === undefined) {
      throw new LoadError("maps pinned 'object' (PIN_OBJECT_NS) go in a directory named by the SHA-1 of the object file, which the spec does not carry", context, {
        hint: 'read the spec with readObjectSpec(path) or parseObject(bytes) from bpf-load (they set spec.sourceHash), or set spec.sourceHash',
      });
    }
    return spec.sourceHash;
  };
  let database: Map<number, string> | undefined;
  const customPaths = () => (database ??= readPinningDatabase());

  const paths = new Map<string, string>();
  const byPath = new Map<string, string>();
  for (const map of maps) {
    const path = tcPinPath(bpffs, map, objectDirectoryName, customPaths);
    if (typeof map.pinning === 'object' && path === undefined) {
      warn?.(`map '${map.name}': pinning ${map.pinning.custom} is not in ${PINNING_DATABASES.join(' or ')}: not pinned (as tc does)`);
    }
    if (path === undefined) continue;
    const pinName = pinNameFor(map.name);
    checkPinComponent(pinName, 'map pin name', context);
    if (pinName !== map.name) warn?.(`map '${map.name}' is pinned as '${pinName}': bpffs refuses '.' in names`);
    const other = byPath.get(path);
    if (other !== undefined) throw new LoadError(`maps '${other}' and '${map.name}' would both be pinned at '${path}'`, context);
    byPath.set(path, map.name);
    paths.set(map.name, path);
  }
  if (paths.size > 0) {
    ensureOnBpffs(bpffs, context);
    // the hierarchy tc makes whenever it works with bpffs; ip (XDP, lwt) finds the same maps through the links
    ledger.directories(join(bpffs, 'tc', 'globals'), context);
    for (const alias of TC_ALIASES) ledger.symlink('tc/', join(bpffs, alias), context);
  }
  return paths;
}

/**
 * tc's pins are shared by every loader of the object: the hint must not send
 * a user to unpin or replace them (that pulls a map from under another loader).
 */
export const SHARED_MISMATCH_HINT =
  'tc refuses this too ("Map specification differs from pinned file!"); the pinned map is shared with every other load ' +
  'of objects that pin it: make the definition match it, or load into another bpffs directory (bpffs, --bpffs)';
