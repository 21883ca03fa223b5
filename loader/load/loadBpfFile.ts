import { fileURLToPath } from 'node:url';
import { copySpec, mapOrder, setVariable, parseObject as parseBytes, type MapSpec, type ObjectSpec, type ParseOptions } from '../../elf/index.js';
import type { BpfObject } from './bpfObject.js';
import { LoadError, argumentError, checkOptions } from '../errors.js';
import { checkReadOptions, isEmptyPlainObject, loadSettings, type LoadObjectOptions, type LoadOptions, type ReadOptions } from '../options.js';
import { applyFixupMap } from './createMap.js';
import { deferStopSignals } from './deferSignals.js';
import { Loader } from './loader.js';
import { checkObjectSpec, selectPrograms } from './selectPrograms.js';
import { readObjectFileSync } from './readObject.js';
import { validateCheckedSpec } from './validateSpec.js';
import { checkFreplaceTargets } from './btfTarget.js';
import { objectHash } from '../pinning/tcLayout.js';

const hostLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * load_bpf_file() for Node, in one call: read and parse the object, then
 * loadObject() it. On any failure everything this call opened is closed
 * before the error is thrown.
 */
export async function loadBpfFile(path: string | URL, options: LoadOptions = {}): Promise<BpfObject> {
  const file = checkPath(path, 'loadBpfFile');
  const { read, load } = splitOptions(options, 'loadBpfFile');
  // yield once, as an async read would: the caller's code after the call still runs before the load
  await Promise.resolve();
  return loadChecked(readSpec(file, read), load, 'loadBpfFile');
}

/** Synchronous loadBpfFile(), for scripts and samples that have no event loop work to do. */
export function loadBpfFileSync(path: string | URL, options: LoadOptions = {}): BpfObject {
  const file = checkPath(path, 'loadBpfFileSync');
  const { read, load } = splitOptions(options, 'loadBpfFileSync');
  return loadChecked(readSpec(file, read), load, 'loadBpfFileSync');
}

/** Read and parse an object file without loading it: what --dry-run shows. */
export function readObjectSpec(path: string | URL, options: ReadOptions = {}): ObjectSpec {
  const file = checkPath(path, 'readObjectSpec');
  checkReadOptions(options, 'readObjectSpec');
  return readSpec(file, options);
}

/** readObjectSpec(), as a Promise (the name of earlier releases). */
export async function loadObjectSpec(path: string | URL, options: ReadOptions & Pick<LoadOptions, 'programs'> = {}): Promise<ObjectSpec> {
  const file = checkPath(path, 'loadObjectSpec');
  checkOptions(options, ['convention', 'sections', 'programs'], 'loadObjectSpec');
  const { read } = splitOptions(options, 'loadObjectSpec');
  await Promise.resolve();
  return readSpec(file, read);
}

/**
 * parseObject() of elf/, plus what only the loader side may compute: the
 * SHA-1 that names tc's directory for maps pinned 'object'.
 */
export function parseObject(bytes: Uint8Array, options: ParseOptions = {}): ObjectSpec {
  const spec = parseBytes(bytes, options);
  if (spec.convention === 'tc' && Object.values(spec.maps).some((m) => m.pinning === 'object')) spec.sourceHash = objectHash(bytes);
  return spec;
}

/**
 * Load a spec (parsed, or a copy edited by name) into the kernel. The spec
 * is validated before any system call and never modified (fixupMap edits a
 * copy); the returned object carries what was loaded as `spec`.
 */
export function loadObject(spec: ObjectSpec, options: LoadObjectOptions = {}): BpfObject {
  checkObjectSpec(spec, 'loadObject');
  return loadChecked(spec, options, 'loadObject');
}

/** loadObject(), by the name of earlier releases. */
export function loadBpfObject(spec: ObjectSpec, options: LoadObjectOptions = {}): BpfObject {
  checkObjectSpec(spec, 'loadBpfObject');
  return loadChecked(spec, options, 'loadBpfObject');
}

function checkPath(path: unknown, where: string): string {
  if (path instanceof URL) {
    if (path.protocol !== 'file:') throw argumentError(where, 'path', 'a file path or a file: URL', path.href);
    return fileURLToPath(path);
  }
  if (typeof path !== 'string' || path === '') throw argumentError(where, 'path', 'a non-empty string or a file: URL', path);
  return path;
}

/** loadBpfFile's options: how to read the file, and the rest for the load. */
function splitOptions(options: unknown, where: string): { read: ReadOptions; load: LoadObjectOptions } {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw argumentError(where, 'options', 'an object', options);
  if (isEmptyPlainObject(options)) return { read: {}, load: {} };
  const { convention, sections, ...load } = options as LoadOptions;
  const read: ReadOptions = { ...(convention === undefined ? {} : { convention }), ...(sections === undefined ? {} : { sections }) };
  checkReadOptions(read, where);
  // the sections options.programs names are read as programs even when their names say no type
  const programs = (load as { programs?: unknown }).programs;
  if (Array.isArray(programs)) read.sections = [...(read.sections ?? []), ...programs.filter((p): p is string => typeof p === 'string')];
  const grouped = typeof programs === 'object' && programs !== null && !Array.isArray(programs) ? (programs as { select?: unknown }).select : undefined;
  if (Array.isArray(grouped)) read.sections = [...(read.sections ?? []), ...grouped.filter((p): p is string => typeof p === 'string')];
  return { read, load };
}

function readSpec(file: string, options: ReadOptions): ObjectSpec {
  return parseObject(readObjectFileSync(file), { file, ...options });
}

/**
 * The load of a spec: options checked, a copy made and edited by fixupMap,
 * the copy validated, and only then a system call.
 */
function loadChecked(original: ObjectSpec, options: LoadObjectOptions, where: string): BpfObject {
  const settings = loadSettings(options, where, original.convention);
  if ((original.byteOrder === 'little') !== hostLittleEndian) {
    throw new LoadError(
      `object is ${original.byteOrder}-endian but this machine is ${hostLittleEndian ? 'little' : 'big'}-endian: ` +
        'rebuild with clang -target bpf (native) or bpfel',
      { file: original.file },
    );
  }
  // the load never changes the caller's spec: fixupMap edits a copy
  const spec = settings.fixupMap || settings.variables ? copySpec(original) : original;
  if (settings.variables) for (const name of Object.keys(settings.variables)) setVariable(spec, name, settings.variables[name]);
  // the map_fd[] order, worked out once for every step of this load (fixupMap changes no map's offset)
  let order: MapSpec[] | undefined;
  let replace = settings.replace;
  if (settings.fixupMap) {
    const edited = new Map(replace);
    applyFixupMap(spec, order = mapOrder(spec), settings.fixupMap, edited);
    replace = edited;
  }
  if (replace.size > 0) for (const name of replace.keys()) {
    if (!Object.hasOwn(spec.maps, name)) {
      throw new LoadError(`maps.replace names map '${name}', which is no map of this spec (maps: ${Object.keys(spec.maps).join(', ') || 'none'})`, {
        file: spec.file,
      }, { code: 'BPF_LOAD_ARGUMENT' });
    }
  }
  const programs = selectPrograms(spec, settings.select);
  validateCheckedSpec(spec, programs, order);
  order ??= mapOrder(spec);
  checkFreplaceTargets(spec, programs, settings.freplaceTargets);
  if (spec.warnings.length > 0) for (const warning of spec.warnings) settings.onWarning?.(warning);
  const loader = new Loader(spec, programs, replace === settings.replace ? settings : { ...settings, replace }, order);
  let pins = settings.pinDir !== undefined || (spec.convention === 'tc' && order.length > 0);
  for (let i = 0; i < order.length && !pins; i++) pins = order[i]!.pinning === 'byName';
  return pins ? deferStopSignals(() => loader.run()) : loader.run();
}
