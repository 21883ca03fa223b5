import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  MAX_DATAGRAM_SIZE, MAX_ENTRIES_PER_DATAGRAM, MSG_CTRUNC, MSG_TRUNC, MalformedMapSet, SyscallError, decodeMapSetDatagram,
  receiveWithFds, unixDgramBind, unixDgramListening, type BpfFd, type DecodedDatagram, type ReceivedDatagram, type TcMapEntry,
} from '../../syscall/index.js';
import { BpfMap } from '../maps/bpfMap.js';
import { LoadError } from '../errors.js';

export interface ReceiveMapsOptions {
  /** give up after this many milliseconds (default: wait until a set arrives or `signal` aborts) */
  timeoutMs?: number;
  /** stop waiting when this signal aborts */
  signal?: AbortSignal;
  /** file mode of the socket (default 0o600: only root and this user can send) */
  mode?: number;
  /** replace a stale socket file left at the path (one nobody receives on); anything else there is refused */
  replace?: boolean;
  /** senders accepted besides root and this process's user, by uid */
  allowUids?: readonly number[];
  /** told about each datagram refused for its sender's credentials (its fds were closed unread) */
  onRefused?: (message: string) => void;
}

export interface ReceivedMap {
  /** the entry's bpf_elf_map.id: tc's BPF_MAP<id> */
  tcId: number;
  /** the struct bpf_elf_map entry the sender sent with the fd */
  def: TcMapEntry;
  /** the map, owned by the caller */
  map: BpfMap;
}

export interface ReceivedMaps {
  /** the object's name as the sender gave it */
  objectName: string;
  /** st_dev and st_ino of the sender's object file */
  dev: bigint;
  ino: bigint;
  /** in the order sent */
  maps: ReceivedMap[];
  /** close every map */
  close(): void;
  [Symbol.dispose](): void;
}

const POLL_MS = 10;

/**
 * Bind a datagram socket at `udsPath` and receive one map set in iproute2's
 * bpf_map_set_msg format, from `tc filter … bpf obj X.o export UDS`, from
 * exportMaps() or `load-kern-object --export`. The socket file is made with
 * mode 0600 and removed again at the end; datagrams from a sender that is
 * neither root, this user nor in allowUids are dropped with their fds closed
 * unread. A malformed set is an error, and every fd received is closed.
 */
export async function receiveMaps(udsPath: string, options: ReceiveMapsOptions = {}): Promise<ReceivedMaps> {
  const what = `receive maps on '${udsPath}'`;
  checkOptions(udsPath, options, what);
  prepareSocketPath(udsPath, options.replace === true, what);
  const socket = bindPrivately(udsPath, options.mode ?? 0o600, what);
  const allowed = new Set([0, process.getuid?.() ?? 0, ...(options.allowUids ?? [])]);
  const fds: BpfFd[] = [];
  const entries: TcMapEntry[] = [];
  let header: { objectName: string; dev: bigint; ino: bigint; total: number } | undefined;
  let refused = 0;
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  try {
    for (;;) {
      if (options.signal?.aborted) throw new LoadError(`${what}: aborted`, {}, { cause: options.signal.reason });
      const datagram = receive(socket.fd, what);
      if (!datagram) {
        if (Date.now() >= deadline) {
          throw new LoadError(
            `${what}: nothing arrived within ${options.timeoutMs} ms` +
              (header ? ` (${entries.length} of ${header.total} maps came)` : '') +
              (refused ? `; ${refused} datagram(s) from senders not allowed were refused` : ''),
            {},
            { code: 'BPF_LOAD_TIMEOUT', hint: 'is the sender running (tc … export, load-kern-object --export) and sending to this path?' },
          );
        }
        await sleep(POLL_MS);
        continue;
      }
      const uid = datagram.credentials?.uid;
      if (uid === undefined || !allowed.has(uid)) {
        for (const fd of datagram.fds) fd.close();
        refused++;
        options.onRefused?.(`${what}: refused a datagram from uid ${uid ?? 'unknown'} (pid ${datagram.credentials?.pid ?? '?'}): ` +
          'senders must be root, this user or in allowUids');
        continue;
      }
      fds.push(...datagram.fds);
      if (datagram.flags & (MSG_CTRUNC | MSG_TRUNC)) {
        throw new LoadError(`${what}: malformed map set message: ${datagram.flags & MSG_CTRUNC ? 'control data truncated (MSG_CTRUNC: more fds than one datagram carries)' : 'payload truncated (MSG_TRUNC)'}`, {});
      }
      let decoded: DecodedDatagram;
      try {
        decoded = decodeMapSetDatagram(datagram.payload, datagram.fds.length);
      } catch (cause) {
        if (!(cause instanceof MalformedMapSet)) throw cause;
        throw new LoadError(`${what}: ${cause.message}`, {}, {
          hint: "the sender does not speak iproute2's bpf_map_set_msg (uds_ver 1)",
        });
      }
      if (header && (decoded.total !== header.total || decoded.objectName !== header.objectName)) {
        throw new LoadError(`${what}: malformed map set message: a datagram of another set (num_ent ${decoded.total}, object '${decoded.objectName}') in the middle of one`, {});
      }
      header ??= decoded;
      entries.push(...decoded.entries);
      if (entries.length > header.total) {
        throw new LoadError(`${what}: malformed map set message: ${entries.length} entries came, num_ent says ${header.total}`, {});
      }
      if (entries.length === header.total) break;
    }
    return received(header, entries, fds);
  } catch (error) {
    for (const fd of fds) fd.close();
    throw error;
  } finally {
    socket.close();
    removeSocketFile(udsPath);
  }
}

function receive(fd: number, what: string): ReceivedDatagram | undefined {
  try {
    return receiveWithFds(fd, MAX_DATAGRAM_SIZE, MAX_ENTRIES_PER_DATAGRAM);
  } catch (cause) {
    if (!(cause instanceof SyscallError)) throw cause;
    throw new LoadError(what, {}, { cause });
  }
}

/** The maps as BpfMaps; each fd is taken over by its map, so only those not yet taken are closed on failure. */
function received(header: { objectName: string; dev: bigint; ino: bigint }, entries: readonly TcMapEntry[], fds: BpfFd[]): ReceivedMaps {
  const maps: ReceivedMap[] = [];
  try {
    entries.forEach((def, i) => maps.push({ tcId: def.id, def, map: BpfMap.fromOwnedFd(fds[i]!, undefined, `map fd received for BPF_MAP${def.id}`) }));
  } catch (error) {
    // the map that failed closed its own fd; those after it were never taken
    for (const { map } of maps) map.close();
    for (const fd of fds.slice(maps.length + 1)) fd.close();
    throw error;
  }
  const close = (): void => {
    for (const { map } of maps) map.close();
  };
  return { objectName: header.objectName, dev: header.dev, ino: header.ino, maps, close, [Symbol.dispose]: close };
}

function checkOptions(udsPath: string, options: ReceiveMapsOptions, what: string): void {
  const argument = (message: string): never => {
    throw new LoadError(`${what}: ${message}`, {}, { code: 'BPF_LOAD_ARGUMENT' });
  };
  if (typeof udsPath !== 'string' || udsPath === '') argument(`udsPath must be a path, not ${JSON.stringify(udsPath)}`);
  if (options.timeoutMs !== undefined && !(Number.isFinite(options.timeoutMs) && options.timeoutMs >= 0)) {
    argument(`options.timeoutMs must be a number of milliseconds >= 0, not ${String(options.timeoutMs)}`);
  }
  if (options.mode !== undefined && !(Number.isInteger(options.mode) && options.mode >= 0 && options.mode <= 0o777)) {
    argument(`options.mode must be a file mode from 0 to 0o777, not ${String(options.mode)}`);
  }
  for (const uid of options.allowUids ?? []) {
    if (!Number.isInteger(uid) || uid < 0) argument(`options.allowUids holds ${String(uid)}, not a uid`);
  }
}

/** Nothing may be at the path, except a stale socket when told to replace it. */
function prepareSocketPath(path: string, replace: boolean, what: string): void {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (!replace) {
    throw new LoadError(`${what}: '${path}' exists`, {}, {
      hint: 'remove it, or pass replace: true (--replace) to replace a socket nobody receives on any more',
    });
  }
  if (!stat.isSocket()) throw new LoadError(`${what}: '${path}' exists and is not a socket: not replacing it`, {});
  if (unixDgramListening(path)) throw new LoadError(`${what}: another process receives on '${path}': not replacing it`, {});
  unlinkSync(path);
}

/**
 * bind() makes the socket file with the process's umask: a narrow one around
 * it leaves no moment in which others could send, then chmod gives the mode.
 */
function bindPrivately(path: string, mode: number, what: string): BpfFd {
  const previous = process.umask(0o177);
  let socket: BpfFd;
  try {
    socket = unixDgramBind(path);
  } catch (cause) {
    if (!(cause instanceof SyscallError)) throw cause;
    throw new LoadError(what, {}, { cause });
  } finally {
    process.umask(previous);
  }
  try {
    chmodSync(path, mode);
  } catch (cause) {
    socket.close();
    removeSocketFile(path);
    throw new LoadError(`${what}: cannot set the socket's mode: ${(cause as NodeJS.ErrnoException).code ?? cause}`, {}, { cause });
  }
  return socket;
}

function removeSocketFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
