import { lstatSync, statSync } from 'node:fs';
import { tcPinningValue, type ObjectSpec } from '../../elf/index.js';
import {
  MAX_ENTRIES_PER_DATAGRAM, SyscallError, encodeMapSet, errno, sendWithFds, unixDgramSender, type TcMapEntry,
} from '../../syscall/index.js';
import type { BpfMap } from '../maps/bpfMap.js';
import { LoadError, argumentError, checkOptions } from '../errors.js';

/** What exportMaps needs of a loaded object (a BpfObject is one). */
export interface MapSource {
  readonly file: string;
  readonly spec: ObjectSpec;
  readonly maps: readonly BpfMap[];
}

export interface ExportMapsOptions {
  /** how long a send may wait for a receiver whose queue is full (default 5000 ms) */
  timeoutMs?: number;
}

/**
 * Send every map's fd, with its struct bpf_elf_map entry, to the datagram
 * socket at `udsPath` the way `tc filter … bpf obj X.o export UDS` does, so
 * `tc exec bpf import UDS run CMD`, iproute2's bpf_agent and receiveMaps()
 * take them. tc-convention maps go out as the object defines them;
 * samples-convention maps in the same layout with `id` = their index. The
 * socket must belong to root or to this process's user: map fds are
 * capabilities, not to be handed to whoever made a file at that path.
 */
export function exportMaps(object: MapSource, udsPath: string, options: ExportMapsOptions = {}): void {
  if (typeof object !== 'object' || object === null || !Array.isArray(object.maps)) {
    throw argumentError('exportMaps', 'object', 'a loaded object (loadBpfFile)', object);
  }
  checkOptions(options, ['timeoutMs'], 'exportMaps');
  const context = { file: object.file };
  const what = `export the maps to '${udsPath}'`;
  if (typeof udsPath !== 'string' || udsPath === '') {
    throw new LoadError(`exportMaps: udsPath must be the path of a socket, not ${JSON.stringify(udsPath)}`, context, { code: 'BPF_LOAD_ARGUMENT' });
  }
  const timeoutMs = options.timeoutMs ?? 5000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new LoadError(`exportMaps: options.timeoutMs must be a number of milliseconds > 0, not ${String(timeoutMs)}`, context, { code: 'BPF_LOAD_ARGUMENT' });
  }
  checkReceiverSocket(udsPath, what, context);
  if (object.maps.length === 0) throw new LoadError(`${what}: the object has no maps`, context);
  const entries = object.maps.map((map) => entryOf(object.spec, map));
  const datagrams = encodeMapSet({ objectName: object.file, ...fileIdentity(object.file) }, entries);
  const sender = unixDgramSender(timeoutMs / 1000);
  try {
    datagrams.forEach((datagram, i) => {
      const fds = object.maps.slice(i * MAX_ENTRIES_PER_DATAGRAM, (i + 1) * MAX_ENTRIES_PER_DATAGRAM).map((map) => map.fd);
      try {
        sendWithFds(sender.fd, udsPath, datagram, fds);
      } catch (cause) {
        if (!(cause instanceof SyscallError)) throw cause;
        throw new LoadError(what, context, { cause, hint: sendHint(cause) });
      }
    });
  } finally {
    sender.close();
  }
}

/** Hand fds only to a socket of root or of this user, as the receiver's own socket file says. */
export function checkReceiverSocket(path: string, what: string, context: { file: string }): void {
  let stat;
  try {
    stat = lstatSync(path);
  } catch (cause) {
    throw new LoadError(`${what}: ${(cause as NodeJS.ErrnoException).code ?? cause}`, context, {
      hint: 'start the receiver first (tc exec bpf import UDS run CMD, or receiveMaps), it makes the socket',
    });
  }
  if (!stat.isSocket()) throw new LoadError(`${what}: '${path}' is not a socket`, context);
  const self = process.getuid?.() ?? 0;
  if (stat.uid !== 0 && stat.uid !== self) {
    throw new LoadError(`${what}: the socket belongs to uid ${stat.uid}, neither root nor this user (uid ${self})`, context, {
      hint: 'map fds give full access to the maps: bpf-load sends them only to a receiver of root or of its own user',
    });
  }
}

/** The struct bpf_elf_map entry of a map: tc's own fields where the object has them. */
function entryOf(spec: ObjectSpec, map: BpfMap): TcMapEntry {
  const mapSpec = Object.hasOwn(spec.maps, map.name) ? spec.maps[map.name] : undefined;
  const tc = mapSpec?.source.kind === 'maps' ? mapSpec.source.raw.tc : undefined;
  return {
    type: map.def.type,
    size_key: map.def.key_size,
    size_value: map.def.value_size,
    max_elem: map.def.max_entries,
    flags: map.def.map_flags,
    id: tc ? tc.id : map.index,
    pinning: mapSpec ? tcPinningValue(mapSpec.pinning) : 0,
    inner_id: tc?.innerId ?? 0,
    inner_idx: tc?.innerIdx ?? 0,
  };
}

/** obj_st: the object file's device and inode, which tc sends to tell objects apart; zeros when the file is gone. */
function fileIdentity(file: string): { dev: bigint; ino: bigint } {
  try {
    const stat = statSync(file, { bigint: true });
    return { dev: stat.dev, ino: stat.ino };
  } catch {
    return { dev: 0n, ino: 0n };
  }
}

function sendHint(cause: SyscallError): string | undefined {
  if (cause.errno === errno.ECONNREFUSED) return 'nobody receives on that socket any more (a stale socket file)';
  if (cause.errno === errno.EAGAIN) return 'the receiver is not reading';
  if (cause.errno === errno.EACCES) return 'the socket file\'s mode does not let this user write to it';
  return undefined;
}
