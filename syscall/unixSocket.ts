import { BpfFd } from './fd.js';
import { SyscallError } from './errors.js';
import { errno } from './errno.js';
import { addressOf, lastErrno, libcFunctions, setsockopt } from './native.js';
import { MSG_DONTWAIT, SOCK_DGRAM, SOCK_NONBLOCK, SOL_SOCKET, bind, setsockoptInt, socket, timeval } from './net.js';
import { toCString } from './cString.js';
import { HOST_LITTLE_ENDIAN, StructCodec } from './structCodec.js';
import {
  AF_UNIX, CMSGHDR, IOVEC, MSG_CMSG_CLOEXEC, MSG_CTRUNC, MSG_TRUNC, SCM_CREDENTIALS, SCM_RIGHTS, SOCKADDR_UN, SO_PASSCRED,
  SO_SNDTIMEO, UCRED, USER_MSGHDR,
} from '../uapi/sockets.js';

export { AF_UNIX, MSG_CTRUNC, MSG_TRUNC };

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

const msghdrCodec = new StructCodec(USER_MSGHDR);
const iovecCodec = new StructCodec(IOVEC);
const cmsgCodec = new StructCodec(CMSGHDR);
const ucredCodec = new StructCodec(UCRED);
const sockaddrUnCodec = new StructCodec(SOCKADDR_UN);
/** sizeof(struct sockaddr_un.sun_path) */
const SUN_PATH_MAX = SOCKADDR_UN.fields.sun_path.size;
const CMSG_HEADER = CMSGHDR.size;
const FD_SIZE = 4;

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
  // the address given is as long as the path it names (with its NUL), not all of sun_path
  const address = Buffer.alloc(SOCKADDR_UN.fields.sun_path.offset + name.byteLength);
  sockaddrUnCodec.set(address, 'sun_family', AF_UNIX);
  sockaddrUnCodec.set(address, 'sun_path', name);
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
  return msghdrCodec.alloc({
    ...(name ? { msg_name: addressOf(name), msg_namelen: name.byteLength } : {}),
    msg_iov: addressOf(iov),
    msg_iovlen: 1,
    ...(control ? { msg_control: addressOf(control), msg_controllen: control.byteLength } : {}),
  });
}

function iovec(data: Buffer): Buffer {
  return iovecCodec.alloc({ iov_base: addressOf(data), iov_len: data.byteLength });
}

/** The fds of an SCM_RIGHTS message's data, ints in the host's order. */
function intsOf(values: readonly number[]): Buffer {
  return Buffer.from(new Int32Array(values).buffer);
}

/** sendmsg() one datagram to `path` with `fds` in an SCM_RIGHTS message (the fds stay the caller's). */
export function sendWithFds(sender: number, path: string, payload: Uint8Array, fds: readonly number[]): void {
  const data = Buffer.from(payload);
  const name = sockaddrUn(path);
  const iov = iovec(data);
  let control: Buffer | null = null;
  if (fds.length) {
    control = Buffer.alloc(cmsgSpace(FD_SIZE * fds.length));
    cmsgCodec.encode(control, { cmsg_len: CMSG_HEADER + FD_SIZE * fds.length, cmsg_level: SOL_SOCKET, cmsg_type: SCM_RIGHTS });
    intsOf(fds).copy(control, CMSG_HEADER);
    // the kernel checks cmsg_len against msg_controllen: give exactly CMSG_LEN when it is not 8-aligned
    control = control.subarray(0, CMSG_HEADER + FD_SIZE * fds.length);
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
  const control = Buffer.alloc(cmsgSpace(FD_SIZE * maxFds) + cmsgSpace(UCRED.size));
  const header = msghdr(null, iov, control);
  const ret = Number(libc.recvmsg(receiver, header, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
  if (ret < 0) {
    const error = lastErrno();
    if (error === errno.EAGAIN) return undefined;
    throw new SyscallError('recvmsg', error);
  }
  const flags = msghdrCodec.get(header, 'msg_flags');
  const controlLength = msghdrCodec.get(header, 'msg_controllen');
  const ints = new DataView(control.buffer, control.byteOffset, control.byteLength);
  const fds: BpfFd[] = [];
  let credentials: Credentials | undefined;
  try {
    for (let at = 0; at + CMSG_HEADER <= controlLength; ) {
      const message = control.subarray(at);
      const length = cmsgCodec.get(message, 'cmsg_len');
      if (length < CMSG_HEADER || at + length > controlLength) break;
      const level = cmsgCodec.get(message, 'cmsg_level');
      const type = cmsgCodec.get(message, 'cmsg_type');
      if (level === SOL_SOCKET && type === SCM_RIGHTS) {
        for (let fd = at + CMSG_HEADER; fd + FD_SIZE <= at + length; fd += FD_SIZE) fds.push(new BpfFd(ints.getInt32(fd, HOST_LITTLE_ENDIAN)));
      } else if (level === SOL_SOCKET && type === SCM_CREDENTIALS && length >= CMSG_HEADER + UCRED.size) {
        const ucred = message.subarray(CMSG_HEADER);
        credentials = { pid: ucredCodec.get(ucred, 'pid'), uid: ucredCodec.get(ucred, 'uid'), gid: ucredCodec.get(ucred, 'gid') };
      }
      at += align8(length);
    }
  } catch (error) {
    for (const fd of fds) fd.close();
    throw error;
  }
  return { payload: data.subarray(0, Math.min(ret, maxPayload)), fds, credentials, flags };
}
