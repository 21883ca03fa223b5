import { BpfFd } from './fd.js';
import { SyscallError } from './errors.js';
import { errno } from './errno.js';
import { addressOf, lastErrno, libcFunctions, setsockopt } from './native.js';
import { MSG_DONTWAIT, SOCK_DGRAM, SOCK_NONBLOCK, SOL_SOCKET, bind, setsockoptInt, socket, timeval } from './net.js';
import { toCString } from './cString.js';

/**
 * AF_UNIX datagram sockets that carry file descriptors (SCM_RIGHTS) and the
 * sender's credentials (SCM_CREDENTIALS), as tc passes map fds to an agent.
 * Layouts are those of the LP64 ABIs (x86-64, arm64…).
 */

const libc = libcFunctions({
  sendmsg: 'long sendmsg(int fd, void *msg, int flags)',
  recvmsg: 'long recvmsg(int fd, void *msg, int flags)',
  connect: 'int connect(int fd, void *addr, unsigned int len)',
});

export const AF_UNIX = 1;
const SO_PASSCRED = 16;
const SO_SNDTIMEO = 21;
const SCM_RIGHTS = 1;
const SCM_CREDENTIALS = 2;
export const MSG_CTRUNC = 0x8;
export const MSG_TRUNC = 0x20;
const MSG_CMSG_CLOEXEC = 0x40000000;
/** sizeof(struct sockaddr_un.sun_path) */
const SUN_PATH_MAX = 108;
const MSGHDR_SIZE = 56;
const CMSG_HEADER = 16;

const align8 = (n: number): number => (n + 7) & ~7;
/** CMSG_SPACE(n): room for one control message carrying n bytes */
const cmsgSpace = (bytes: number): number => CMSG_HEADER + align8(bytes);

/** struct sockaddr_un for a filesystem path; a path sun_path cannot hold is refused. */
function sockaddrUn(path: string): Buffer {
  const name = toCString(path);
  // sun_path holds the path and its NUL
  if (name.byteLength === 1 || name.byteLength > SUN_PATH_MAX) {
    throw new SyscallError(`sockaddr_un('${path}')`, errno.ENAMETOOLONG, `(a socket path takes 1 to ${SUN_PATH_MAX - 1} bytes)`);
  }
  const address = Buffer.alloc(2 + name.byteLength);
  address.writeUInt16LE(AF_UNIX, 0);
  name.copy(address, 2);
  return address;
}

/** A non-blocking AF_UNIX datagram socket bound at `path`, told to receive the credentials of each sender. */
export function unixDgramBind(path: string): BpfFd {
  const owner = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  try {
    setsockoptInt(owner.fd, SOL_SOCKET, SO_PASSCRED, 1, 'setsockopt(SO_PASSCRED)');
    bind(owner.fd, sockaddrUn(path), `bind('${path}')`);
    return owner;
  } catch (error) {
    owner.close();
    throw error;
  }
}

/** An unbound AF_UNIX datagram socket to send from; a send that the receiver does not take within `timeoutSeconds` fails (EAGAIN). */
export function unixDgramSender(timeoutSeconds: number): BpfFd {
  const owner = socket(AF_UNIX, SOCK_DGRAM, 0);
  const ret = setsockopt(owner.fd, SOL_SOCKET, SO_SNDTIMEO, timeval(timeoutSeconds));
  if (ret < 0) {
    const cause = new SyscallError('setsockopt(SO_SNDTIMEO)', -ret);
    owner.close();
    throw cause;
  }
  return owner;
}

/** Whether a process has a datagram socket bound at `path` (connect() succeeds) or it is a stale file (ECONNREFUSED). */
export function unixDgramListening(path: string): boolean {
  const owner = socket(AF_UNIX, SOCK_DGRAM, 0);
  try {
    const address = sockaddrUn(path);
    if ((libc.connect(owner.fd, address, address.byteLength) as number) === 0) return true;
    const error = lastErrno();
    if (error === errno.ECONNREFUSED) return false;
    throw new SyscallError(`connect('${path}')`, error);
  } finally {
    owner.close();
  }
}

function msghdr(name: Buffer | null, iov: Buffer, control: Buffer | null): Buffer {
  const header = Buffer.alloc(MSGHDR_SIZE);
  if (name) {
    header.writeBigUInt64LE(addressOf(name), 0);
    header.writeUInt32LE(name.byteLength, 8);
  }
  header.writeBigUInt64LE(addressOf(iov), 16);
  header.writeBigUInt64LE(1n, 24);
  if (control) {
    header.writeBigUInt64LE(addressOf(control), 32);
    header.writeBigUInt64LE(BigInt(control.byteLength), 40);
  }
  return header;
}

function iovec(data: Buffer): Buffer {
  const iov = Buffer.alloc(16);
  iov.writeBigUInt64LE(addressOf(data), 0);
  iov.writeBigUInt64LE(BigInt(data.byteLength), 8);
  return iov;
}

/** sendmsg() one datagram to `path` with `fds` in an SCM_RIGHTS message (the fds stay the caller's). */
export function sendWithFds(sender: number, path: string, payload: Uint8Array, fds: readonly number[]): void {
  const data = Buffer.from(payload);
  const name = sockaddrUn(path);
  const iov = iovec(data);
  let control: Buffer | null = null;
  if (fds.length) {
    control = Buffer.alloc(cmsgSpace(4 * fds.length));
    control.writeBigUInt64LE(BigInt(CMSG_HEADER + 4 * fds.length), 0);
    control.writeInt32LE(SOL_SOCKET, 8);
    control.writeInt32LE(SCM_RIGHTS, 12);
    fds.forEach((fd, i) => control!.writeInt32LE(fd, CMSG_HEADER + 4 * i));
    // the kernel checks cmsg_len against msg_controllen: give exactly CMSG_LEN when it is not 8-aligned
    control = control.subarray(0, CMSG_HEADER + 4 * fds.length);
  }
  const header = msghdr(name, iov, control);
  const ret = Number(libc.sendmsg(sender, header, 0));
  // keep the buffers the header points into alive across the call
  void [data, name, iov, control];
  if (ret < 0) throw new SyscallError(`sendmsg('${path}')`, lastErrno());
}

export interface Credentials {
  pid: number;
  uid: number;
  gid: number;
}

export interface ReceivedDatagram {
  payload: Buffer;
  /** every fd the datagram carried, each owned: close them whatever the payload says */
  fds: BpfFd[];
  credentials: Credentials | undefined;
  /** MSG_TRUNC (payload cut), MSG_CTRUNC (control data cut: some fds were lost) */
  flags: number;
}

/**
 * recvmsg() one datagram without waiting: undefined when none is queued.
 * Control data is read into room for `maxFds` fds plus credentials.
 */
export function receiveWithFds(receiver: number, maxPayload: number, maxFds: number): ReceivedDatagram | undefined {
  const data = Buffer.alloc(maxPayload);
  const iov = iovec(data);
  const control = Buffer.alloc(cmsgSpace(4 * maxFds) + cmsgSpace(12));
  const header = msghdr(null, iov, control);
  const ret = Number(libc.recvmsg(receiver, header, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
  if (ret < 0) {
    const error = lastErrno();
    if (error === errno.EAGAIN) return undefined;
    throw new SyscallError('recvmsg', error);
  }
  const flags = header.readInt32LE(48);
  const controlLength = Number(header.readBigUInt64LE(40));
  const fds: BpfFd[] = [];
  let credentials: Credentials | undefined;
  try {
    for (let at = 0; at + CMSG_HEADER <= controlLength; ) {
      const length = Number(control.readBigUInt64LE(at));
      if (length < CMSG_HEADER || at + length > controlLength) break;
      const level = control.readInt32LE(at + 8);
      const type = control.readInt32LE(at + 12);
      if (level === SOL_SOCKET && type === SCM_RIGHTS) {
        for (let fd = at + CMSG_HEADER; fd + 4 <= at + length; fd += 4) fds.push(new BpfFd(control.readInt32LE(fd)));
      } else if (level === SOL_SOCKET && type === SCM_CREDENTIALS && length >= CMSG_HEADER + 12) {
        credentials = {
          pid: control.readInt32LE(at + CMSG_HEADER),
          uid: control.readUInt32LE(at + CMSG_HEADER + 4),
          gid: control.readUInt32LE(at + CMSG_HEADER + 8),
        };
      }
      at += align8(length);
    }
  } catch (error) {
    for (const fd of fds) fd.close();
    throw error;
  }
  return { payload: data.subarray(0, Math.min(ret, maxPayload)), fds, credentials, flags };
}
