import { parseObject, type ObjectSpec } from '../../elf/index.js';
import { BpfObject, type Closeable } from './bpfObject.js';
import { Cleanup } from '../cleanup.js';
import { createMaps } from './createMaps.js';
import { LoadError, argumentError, checkString } from '../errors.js';
import { loadPrograms } from './loadPrograms.js';
import { attachAutomatic } from '../attach/auto.js';
import { checkLoadOptions, type LoadOptions } from '../options.js';
import { planPinning } from '../pinning/plan.js';
import { deferStopSignals } from './deferSignals.js';
import { readObjectFileSync } from './readObject.js';
import { rememberObjectBytes } from '../pinning/tcLayout.js';

const hostLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * load_bpf_file() for Node: parse the object, create its maps in offset order,
 * then load its programs. On any failure everything this call opened is
 * closed before the error is thrown.
 */
export async function loadBpfFile(path: string, options: LoadOptions = {}): Promise<BpfObject> {
  checkString(path, 'path', 'loadBpfFile');
  checkLoadOptions(options, 'loadBpfFile');
  // yield once, as an async read would: the caller's code after the call still runs before the load
  await Promise.resolve();
  return loadSpec(readSpec(readObjectFileSync(path), path, options), options);
}

/** Read and parse an object file without loading it: what --dry-run shows. */
export async function loadObjectSpec(path: string, options: Pick<LoadOptions, 'convention' | 'programs'> = {}): Promise<ObjectSpec> {
  checkString(path, 'path', 'loadObjectSpec');
  checkLoadOptions(options, 'loadObjectSpec');
  await Promise.resolve();
  return readSpec(readObjectFileSync(path), path, options);
}

/** Synchronous loadBpfFile(), for scripts and samples that have no event loop work to do. */
export function loadBpfFileSync(path: string, options: LoadOptions = {}): BpfObject {
  checkString(path, 'path', 'loadBpfFileSync');
  checkLoadOptions(options, 'loadBpfFileSync');
  return loadSpec(readSpec(readObjectFileSync(path), path, options), options);
}

/** Sections options.programs names are read as programs even when their names say no type (programType gives it). */
function readSpec(bytes: Uint8Array, file: string, options: Pick<LoadOptions, 'convention' | 'programs'>): ObjectSpec {
  const sections = Array.isArray(options.programs) ? options.programs : [];
  const spec = parseObject(bytes, { file, sections, ...(options.convention ? { convention: options.convention } : {}) });
  rememberObjectBytes(spec, bytes);
  return spec;
}

/** Load an already parsed object (parseObject) into the kernel. */
export function loadBpfObject(spec: ObjectSpec, options: LoadOptions = {}): BpfObject {
  if (typeof spec !== 'object' || spec === null || !Array.isArray(spec.maps) || !Array.isArray(spec.programs)) {
    throw argumentError('loadBpfObject', 'spec', 'an ObjectSpec from parseObject() or loadObjectSpec()', spec);
  }
  checkLoadOptions(options, 'loadBpfObject');
  return loadSpec(spec, options);
}

/** loadBpfObject() of a spec this module parsed, with options already checked. */
function loadSpec(spec: ObjectSpec, options: LoadOptions): BpfObject {
  if (spec.littleEndian !== hostLittleEndian) {
    throw new LoadError(
      `object is ${spec.littleEndian ? 'little' : 'big'}-endian but this machine is ` +
        `${hostLittleEndian ? 'little' : 'big'}-endian: rebuild with clang -target bpf (native) or bpfel`,
      { file: spec.file },
    );
  }
  for (const warning of spec.warnings) options.onWarning?.(warning);
  const pins = options.pinDir !== undefined || (spec.convention === 'tc' && spec.maps.length > 0);
  return pins ? deferStopSignals(() => load(spec, options)) : load(spec, options);
}

function load(spec: ObjectSpec, options: LoadOptions): BpfObject {
  const cleanup = new Cleanup();
  try {
    const pinning = planPinning(spec, options, cleanup);
    const maps = createMaps(spec, { fixupMap: options.fixupMap, ...pinning.createHooks }, cleanup);
    const attachments: Closeable[] = [];
    const programs = loadPrograms(spec, maps, options, cleanup);
    // pins are touched only once every map and program exists: a refused program leaves them as they were,
    // and the window in which an uncatchable SIGKILL can leave a mixed set is the pinning alone
    pinning.pinMaps(maps);
    pinning.pinPrograms(programs);
    if (options.attach) attachments.push(...attachAutomatic(programs, cleanup, spec.file));
    cleanup.disarm();
    pinning.commit();
    return new BpfObject(spec, maps, programs, attachments);
  } catch (error) {
    const undoErrors = cleanup.run();
    if (undoErrors.length && error instanceof Error) {
      (error as Error & { cleanupErrors?: unknown[] }).cleanupErrors = undoErrors;
    }
    throw error;
  }
}
