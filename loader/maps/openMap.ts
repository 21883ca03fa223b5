import { BPF_F_RDONLY, BPF_F_WRONLY, BpfFd, SyscallError, errno, mapGetFdById, objGet } from '../../syscall/index.js';
import { openPinFailureHint } from '../bpffs/bpffs.js';
import { BpfMap } from './bpfMap.js';
import { MapError, checkInteger, checkOptions, checkString } from '../errors.js';

export interface OpenPinnedMapOptions {
  /** open with BPF_F_RDONLY: lookups and walks only */
  readOnly?: boolean;
  /** open with BPF_F_WRONLY: updates and deletes only */
  writeOnly?: boolean;
  /** the name to report in errors; defaults to the kernel's name for the map */
  name?: string;
}

/**
 * Open a map pinned on a bpffs (BPF_OBJ_GET), e.g. one pinned by bpftool,
 * tc or another bpf-load process. Type, sizes and name come from the kernel.
 */
export function openPinnedMap(path: string, options: OpenPinnedMapOptions = {}): BpfMap {
  checkString(path, 'path', 'openPinnedMap');
  checkOptions(options, ['readOnly', 'writeOnly', 'name'], 'openPinnedMap');
  checkOptionalName(options.name, 'openPinnedMap', 'options.name');
  if (options.readOnly && options.writeOnly) {
    throw new MapError(options.name ?? path, 'readOnly and writeOnly together leave nothing to do');
  }
  const fileFlags = options.readOnly ? BPF_F_RDONLY : options.writeOnly ? BPF_F_WRONLY : 0;
  let owner: BpfFd;
  try {
    owner = objGet(path, fileFlags);
  } catch (cause) {
    // nothing at the path the caller named is their input, like a missing object file; the kernel refusing a pin is not
    const missing = cause instanceof SyscallError && (cause.errno === errno.ENOENT || cause.errno === errno.ENOTDIR);
    throw new MapError(options.name ?? path, `cannot open pinned map '${path}'`, {
      cause, hint: openPinFailureHint(cause, path, fileFlags), ...(missing ? { code: 'BPF_LOAD_INPUT' as const } : {}),
    });
  }
  return BpfMap.fromOwnedFd(owner, options.name, path);
}

/** A map for an fd someone else owns: bpf-load works on its own duplicate, so `fd` stays yours to close. */
export function openMapFd(fd: number, name?: string): BpfMap {
  checkInteger(fd, 'fd', 'openMapFd', 0, 0x7fffffff);
  checkOptionalName(name, 'openMapFd');
  let owner: BpfFd;
  try {
    owner = BpfFd.dup(fd);
  } catch (cause) {
    throw new MapError(name ?? `fd ${fd}`, 'cannot duplicate the map fd', { cause });
  }
  return BpfMap.fromOwnedFd(owner, name, `fd ${fd}`);
}

/** Open a map by its kernel id (BPF_MAP_GET_FD_BY_ID), as `bpftool map show` lists them. */
export function openMapById(id: number, name?: string): BpfMap {
  checkInteger(id, 'id', 'openMapById', 1, 0xffffffff);
  checkOptionalName(name, 'openMapById');
  let owner: BpfFd;
  try {
    owner = mapGetFdById(id);
  } catch (cause) {
    throw new MapError(name ?? `id ${id}`, `cannot open map id ${id}`, {
      cause,
      ...(cause instanceof SyscallError && cause.errno === errno.ENOENT ? { hint: 'no map has this id (any more)' } : {}),
    });
  }
  return BpfMap.fromOwnedFd(owner, name, `id ${id}`);
}

function checkOptionalName(name: unknown, where: string, argument = 'name'): void {
  if (name !== undefined) checkString(name, argument, where);
}
