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

export const AF_INET = 2;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_ATTACH_BPF = 50;
/** SO_DETACH_BPF has the value of SO_DETACH_FILTER */
export const SO_DETACH_BPF = 27;
import { ETH_P_ALL } from '../uapi/netlink.js';

export { ETH_P_ALL };
export const MSG_DONTWAIT = 0x40;

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
  const buffer = Buffer.alloc(4);
  buffer.writeInt32LE(value);
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
  const buffer = Buffer.alloc(16);
  buffer.writeUInt16LE(AF_INET, 0);
  buffer.writeUInt16BE(port, 2);
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new RangeError(`not an IPv4 address: ${address}`);
  }
  Buffer.from(parts).copy(buffer, 4);
  return buffer;
}

/** struct timeval for a socket timeout (SO_RCVTIMEO, SO_SNDTIMEO): whole seconds, rounded up. */
export function timeval(seconds: number): Buffer {
  const out = Buffer.alloc(16);
  out.writeBigInt64LE(BigInt(Math.ceil(seconds)), 0);
  return out;
}

/** The port a bound AF_INET socket got. */
export function localPort(fd: number): number {
  const address = Buffer.alloc(16);
  const length = [16];
  check(libc.getsockname(fd, address, length) as number, 'getsockname');
  return address.readUInt16BE(2);
}

/** struct sockaddr_ll bound to every protocol on one interface. */
export function sockaddrLl(ifindex: number, protocol = ETH_P_ALL): Buffer {
  const buffer = Buffer.alloc(20);
  buffer.writeUInt16LE(AF_PACKET, 0);
  buffer.writeUInt16BE(protocol, 2);
  buffer.writeInt32LE(ifindex, 4);
  return buffer;
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
