import { readFileSync } from 'node:fs';
import {
  BPF_EXIST, BPF_MAP_DELETE_BATCH, BPF_MAP_DELETE_ELEM, BPF_MAP_GET_NEXT_KEY, BPF_MAP_LOOKUP_AND_DELETE_BATCH,
  BPF_MAP_LOOKUP_AND_DELETE_ELEM, BPF_MAP_LOOKUP_BATCH, BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_BATCH, BPF_MAP_UPDATE_ELEM, BPF_NOEXIST,
  SyscallError, commandName, errno, mapTypeName,
} from '../../syscall/index.js';
import type { Codec } from './codecs.js';
import { MapError } from '../errors.js';
import { hexPreview } from './hexPreview.js';
import type { MapCore } from './mapCore.js';

/**
 * The errors of the element and batch operations, shared by every view of a
 * map: what the message names (map, operation, key in hex, entry) and which
 * errno gets which code and hint is decided here once.
 */

const COMMAND_OF: Record<string, string> = Object.fromEntries(Object.entries({
  lookup: BPF_MAP_LOOKUP_ELEM, update: BPF_MAP_UPDATE_ELEM, delete: BPF_MAP_DELETE_ELEM, get_next_key: BPF_MAP_GET_NEXT_KEY,
  lookup_and_delete: BPF_MAP_LOOKUP_AND_DELETE_ELEM, lookup_batch: BPF_MAP_LOOKUP_BATCH,
  lookup_and_delete_batch: BPF_MAP_LOOKUP_AND_DELETE_BATCH, update_batch: BPF_MAP_UPDATE_BATCH, delete_batch: BPF_MAP_DELETE_BATCH,
}).map(([operation, cmd]) => [operation, commandName(cmd)]));

/** A key or value its codec would not encode (a Buffer of the wrong size says both sizes). */
export function encodeRefused(
  core: MapCore, what: 'key' | 'value', given: unknown, codec: Codec<unknown, never>, expected: number, error: unknown,
): MapError {
  if (given instanceof Uint8Array && given.byteLength !== expected) {
    const perCpu =
      what === 'value' && core.perCpu
        ? `: a per-CPU value is one ${core.valueStride}-byte slot (value_size ${core.shape.valueSize} rounded up to 8) per possible CPU, ${core.cpus} here; map.perCpu() takes an array of values`
        : '';
    return new MapError(
      core.name,
      `${what} is ${given.byteLength} bytes, the map's ${what === 'key' ? 'key_size' : 'value size'} is ${expected}${perCpu}`,
      { code: 'BPF_LOAD_MAP_SIZE' },
    );
  }
  return new MapError(core.name, `cannot encode ${what} as ${codec.name}: ${(error as Error).message}`, {
    code: 'BPF_LOAD_MAP_ENCODE',
  });
}

/** A failed bpf(2) element or batch command (`ret` is -errno) as the MapError the caller sees. */
export function elementFailed(core: MapCore, operation: string, ret: number, key: Uint8Array | undefined, flags = 0, index?: number): MapError {
  const cause = new SyscallError(COMMAND_OF[operation] ?? operation, -ret);
  const keyText = key ? ` key ${hexPreview(key)}` : '';
  const entry = index === undefined ? '' : ` (entry ${index})`;
  if (operation.startsWith('update') && ret === -errno.EEXIST && flags & BPF_NOEXIST) {
    return new MapError(core.name, `${operation}${keyText}${entry}: the key already exists (BPF_NOEXIST)`, {
      cause, code: 'BPF_LOAD_MAP_KEY_EXISTS', hint: 'use BPF_ANY or BPF_EXIST to replace it',
    });
  }
  if (operation.startsWith('update') && ret === -errno.ENOENT && flags & BPF_EXIST) {
    return new MapError(core.name, `${operation}${keyText}${entry}: no such key (BPF_EXIST)`, {
      cause, code: 'BPF_LOAD_MAP_KEY_MISSING', hint: 'use BPF_ANY or BPF_NOEXIST to create it',
    });
  }
  if (ret === -errno.EPERM) {
    const writes = operation.startsWith('update') || operation.includes('delete');
    const hint = accessRefusal(core.owner.fd, writes);
    if (hint) return new MapError(core.name, `${operation}${keyText}${entry}`, { cause, hint });
  }
  if (operation === 'lookup' && (ret === -errno.ENOTSUPP || ret === -errno.EOPNOTSUPP)) {
    return new MapError(core.name, `${operation}${keyText} (${core.describe()})`, {
      cause, hint: `the kernel gives user space no values of ${mapTypeName(core.shape.type)} maps (they hold kernel objects, not data)`,
    });
  }
  if (ret === -errno.E2BIG) {
    return new MapError(core.name, `${operation}${keyText}${entry}`, {
      cause, hint: `the map is full or the index is out of range (max_entries ${core.shape.maxEntries})`,
    });
  }
  if (ret === -errno.EINVAL && operation === 'delete') {
    const hint = core.fixedKeys
      ? `entries of ${mapTypeName(core.shape.type)} maps cannot be deleted: every index always exists; write zeros instead`
      : `this ${mapTypeName(core.shape.type)} map does not delete entries from user space`;
    return new MapError(core.name, `${operation}${keyText}`, { cause, hint });
  }
  return new MapError(core.name, `${operation}${keyText}${entry} (${core.describe()})`, { cause });
}

/**
 * Why the kernel said EPERM to an operation that `writes` (or reads) through
 * a map fd when privilege is not the reason: the fd's access mode or a frozen
 * map, read from /proc/self/fdinfo once the call has failed. Undefined when
 * neither explains it (then the errno's own hint stands).
 */
export function accessRefusal(fd: number, writes: boolean): string | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  } catch {
    return undefined;
  }
  const flags = /^flags:\s*([0-7]+)/m.exec(text);
  const accessMode = flags ? Number.parseInt(flags[1]!, 8) & 3 : undefined;
  // BPF_F_RDONLY / BPF_F_WRONLY belong to the fd, not the map: another fd of the same map may write
  if (writes && accessMode === 0) {
    return 'this fd is read-only (opened with readOnly / BPF_F_RDONLY, or created with BPF_F_RDONLY): ' +
      'write through a read-write fd (openPinnedMap without readOnly, openMapById)';
  }
  if (!writes && accessMode === 1) {
    return 'this fd is write-only (opened with writeOnly / BPF_F_WRONLY, or created with BPF_F_WRONLY): ' +
      'read through a read-write fd (openPinnedMap without writeOnly, openMapById)';
  }
  if (writes && /^frozen:\s*1/m.test(text)) return 'the map is frozen (BPF_MAP_FREEZE): user space can no longer write to it';
  return undefined;
}
