import { BpfFd } from './fd.js';
import { SyscallError } from './errors.js';
import { lastErrno, libcFunctions, setsockopt } from './native.js';

/**
 * Sockets Node cannot make (raw packet, netlink) or whose fd it does not
 * expose (a UDP socket to attach a filter to), through libc. Every call
 * returns an owned fd or throws a SyscallError naming the call.
 */

const libc = libcFunctions({
  socket: 'int socket(int domain, int type, int protocol)',
  bind: 'int bind(int fd, void *addr, unsigned int len)',
  sendto: 'long sendto(int fd, void *buf, unsigned long len, int flags, void *addr, unsigned int addrlen)',
  recv: 'long recv(int fd, _Out_ void *buf, unsigned long len, int flags)',
  getsockname: 'int getsockname(int fd, _Inout_ void *addr, _Inout_ unsigned int *len)',
  ifNametoindex: 'unsigned int if_nametoindex(const char *name)',
});

import { ETH_P_ALL } from '../uapi/netlink.js';
import {
  AF_INET, AF_NETLINK, AF_PACKET, MSG_DONTWAIT, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_RAW, SOCK_STREAM,
  SOCKADDR_IN, SOCKADDR_LL, SOL_SOCKET, SO_ATTACH_BPF, SO_DETACH_BPF, TIMEVAL,
} from '../uapi/sockets.js';
import { HOST_LITTLE_ENDIAN, StructCodec } from './structCodec.js';

export {
  AF_INET, AF_NETLINK, AF_PACKET, ETH_P_ALL, MSG_DONTWAIT, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_RAW, SOCK_STREAM,
  SOL_SOCKET, SO_ATTACH_BPF, SO_DETACH_BPF,
};

const sockaddrInCodec = new StructCodec(SOCKADDR_IN);
const sockaddrLlCodec = new StructCodec(SOCKADDR_LL);
const timevalCodec = new StructCodec(TIMEVAL);

/** htons/ntohs: a 16-bit value between host and network (big-endian) order */
export function htons(value: number): number {
  return HOST_LITTLE_ENDIAN ? ((value & 0xff) << 8) | ((value >>> 8) & 0xff) : value & 0xffff;
}

function check(ret: number | bigint, what: string): number {
  const value = Number(ret);
  if (value < 0) throw new SyscallError(what, lastErrno());
  return value;
}

export function socket(domain: number, type: number, protocol: number): BpfFd {
  return new BpfFd(check(libc.socket(domain, type | SOCK_CLOEXEC, protocol) as number, `socket(${domain}, ${type}, ${protocol})`));
}

export function bind(fd: number, address: Buffer, what = 'bind'): void {
  check(libc.bind(fd, address, address.byteLength) as number, what);
}

export function sendto(fd: number, data: Uint8Array, address: Buffer | null, flags = 0): number {
  return check(libc.sendto(fd, data, data.byteLength, flags, address, address ? address.byteLength : 0) as bigint, 'sendto');
}

/** Returns the bytes read, or -errno (EAGAIN on a non-blocking socket with nothing to read). */
export function recv(fd: number, buffer: Buffer, flags = 0): number {
  const ret = Number(libc.recv(fd, buffer, buffer.byteLength, flags));
  return ret < 0 ? -lastErrno() : ret;
}

export function setsockoptInt(fd: number, level: number, name: number, value: number, what: string): void {
  // an int in the host's order
  const buffer = Buffer.from(new Int32Array([value]).buffer);
  const ret = setsockopt(fd, level, name, buffer);
  if (ret < 0) throw new SyscallError(what, -ret);
}

export function ifNameToIndex(name: string): number {
  const index = libc.ifNametoindex(name) as number;
  if (index === 0) throw new SyscallError(`if_nametoindex('${name}')`, lastErrno());
  return index;
}

/** struct sockaddr_in for 127.0.0.1-style dotted addresses; port in host order. */
export function sockaddrIn(address: string, port: number): Buffer {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new RangeError(`not an IPv4 address: ${address}`);
  }
  return sockaddrInCodec.alloc({ sin_family: AF_INET, sin_port: htons(port), sin_addr: Uint8Array.from(parts) });
}

/** struct timeval for a socket timeout (SO_RCVTIMEO, SO_SNDTIMEO): whole seconds, rounded up. */
export function timeval(seconds: number): Buffer {
  return timevalCodec.alloc({ tv_sec: Math.ceil(seconds) });
}

/** The port a bound AF_INET socket got. */
export function localPort(fd: number): number {
  const address = Buffer.alloc(SOCKADDR_IN.size);
  const length = [SOCKADDR_IN.size];
  check(libc.getsockname(fd, address, length) as number, 'getsockname');
  return htons(sockaddrInCodec.get(address, 'sin_port'));
}

/** struct sockaddr_ll bound to every protocol on one interface. */
export function sockaddrLl(ifindex: number, protocol = ETH_P_ALL): Buffer {
  return sockaddrLlCodec.alloc({ sll_family: AF_PACKET, sll_protocol: htons(protocol), sll_ifindex: ifindex });
}

/** A UDP socket bound to address:port (0: any port), e.g. to attach a socket filter to. */
export function udpSocket(address = '127.0.0.1', port = 0): BpfFd {
  const owner = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  try {
    bind(owner.fd, sockaddrIn(address, port), `bind(${address}:${port})`);
    return owner;
  } catch (error) {
    owner.close();
    throw error;
  }
}
