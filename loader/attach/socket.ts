import {
  AF_PACKET, BPF_PROG_TYPE, BpfFd, ETH_P_ALL, SOCK_NONBLOCK, SOCK_RAW, SOL_SOCKET, SO_ATTACH_BPF, SO_DETACH_BPF, SyscallError, bind,
  errno, htons, ifNameToIndex, setsockoptInt, sockaddrLl, socket,
} from '../../syscall/index.js';
import { LoadError, argumentError, checkString } from '../errors.js';
import {
  Attachment, attachStep, checkProgramRef, interfaceError, progFdOf, programLabel, requireProgramType, type ProgramRef,
} from './attachment.js';

/** A socket given as its fd number, or as anything holding one (PacketSocket, BpfFd). */
export type SocketRef = number | { readonly fd: number };

/**
 * SO_ATTACH_BPF: the socket filter runs on every packet the socket receives.
 * The attachment holds its own duplicate of the socket fd, so close() detaches
 * from this socket even if the caller closed theirs and the number was
 * reused since; the socket stays the caller's otherwise.
 */
export function attachSocketFilter(program: ProgramRef, socketRef: SocketRef): Attachment {
  checkProgramRef(program, 'attachSocketFilter');
  const socketFd: unknown = typeof socketRef === 'object' && socketRef !== null ? socketRef.fd : socketRef;
  if (typeof socketFd !== 'number' || !Number.isInteger(socketFd) || socketFd < 0) {
    throw argumentError('attachSocketFilter', 'socket', 'a socket fd or an object holding one (PacketSocket, BpfFd)', socketRef,
      typeof socketRef === 'string' ? `to filter what an interface receives, pass openRawPacketSocket(${JSON.stringify(socketRef)})` : undefined);
  }
  const what = `attach socket filter to socket fd ${socketFd}`;
  const progFd = progFdOf(program, what);
  requireProgramType(program, what, [BPF_PROG_TYPE.SOCKET_FILTER], 'a socket runs SEC("socket…") programs (socket filters)');
  const held = attachStep(program, what, () => BpfFd.dup(socketFd), 'the socket fd must be open');
  try {
    attachStep(program, what, () =>
      setsockoptInt(held.fd, SOL_SOCKET, SO_ATTACH_BPF, progFd, 'setsockopt(SO_ATTACH_BPF)'),
      'the fd must be a socket',
    );
  } catch (error) {
    held.close();
    throw error;
  }
  return new Attachment('socket', `socket fd ${socketFd}`, programLabel(program), () => {
    try {
      setsockoptInt(held.fd, SOL_SOCKET, SO_DETACH_BPF, 0, 'setsockopt(SO_DETACH_BPF)');
    } catch (error) {
      // someone else detached it already (or replaced it and detached theirs): nothing of ours is left
      if (!(error instanceof SyscallError && error.errno === errno.ENOENT)) throw error;
    } finally {
      held.close();
    }
  });
}

/** A raw AF_PACKET socket bound to one interface, like samples/bpf's open_raw_sock(). */
export class PacketSocket {
  readonly #owner: BpfFd;

  constructor(
    owner: BpfFd,
    readonly ifname: string,
    readonly ifindex: number,
  ) {
    this.#owner = owner;
  }

  get fd(): number {
    return this.#owner.fd;
  }

  get closed(): boolean {
    return this.#owner.closed;
  }

  close(): void {
    this.#owner.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * socket(AF_PACKET, SOCK_RAW, ETH_P_ALL) bound to `ifname`: sees every packet
 * in and out of the interface (non-blocking; nobody needs to read it for a
 * filter to count). Needs CAP_NET_RAW.
 */
export function openRawPacketSocket(ifname: string): PacketSocket {
  checkString(ifname, 'ifname', 'openRawPacketSocket');
  let ifindex: number;
  try {
    ifindex = ifNameToIndex(ifname);
  } catch (cause) {
    throw interfaceError(`no network interface '${ifname}'`, {}, cause);
  }
  let owner: BpfFd;
  try {
    owner = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
  } catch (cause) {
    throw new LoadError(`cannot open a raw packet socket for '${ifname}'`, {}, {
      cause,
      hint: 'needs root or CAP_NET_RAW',
    });
  }
  try {
    bind(owner.fd, sockaddrLl(ifindex), `bind(AF_PACKET, '${ifname}')`);
  } catch (cause) {
    owner.close();
    throw new LoadError(`cannot bind a raw packet socket to '${ifname}'`, {}, { cause });
  }
  return new PacketSocket(owner, ifname, ifindex);
}
