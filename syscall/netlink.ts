import { SyscallError } from './errors.js';
import { errno } from './errno.js';
import { AF_NETLINK, SOCK_RAW, SOL_SOCKET, recv, sendto, setsockoptInt, socket, timeval } from './net.js';
import { fromCString } from './cString.js';
import { SO_RCVTIMEO } from '../uapi/sockets.js';
import { setsockopt } from './native.js';
import { HOST_LITTLE_ENDIAN, StructCodec } from './structCodec.js';
import {
  IFINFOMSG, IFLA_XDP, IFLA_XDP_EXPECTED_FD, IFLA_XDP_FD, IFLA_XDP_FLAGS, NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_ROUTE, NLATTR,
  NLA_ALIGNTO, NLA_F_NESTED, NLMSGERR, NLMSGERR_ATTR_MSG, NLMSGHDR, NLMSG_ALIGNTO, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_ACK_TLVS,
  NLM_F_DUMP, NLM_F_REQUEST, RTM_SETLINK, SOCKADDR_NL, SOL_NETLINK,
} from '../uapi/netlink.js';

/**
 * rtnetlink (NETLINK_ROUTE) for what iproute2 does with `ip link set dev X xdp …`.
 * Messages are written and read through the uapi layouts, in the host's byte
 * order as the kernel's netlink is.
 */

const nlmsghdr = new StructCodec(NLMSGHDR);
const nlattrHeader = new StructCodec(NLATTR);
const nlmsgerr = new StructCodec(NLMSGERR);
const sockaddrNl = new StructCodec(SOCKADDR_NL);
const ifinfomsg = new StructCodec(IFINFOMSG);

export { NLA_F_NESTED, NLM_F_ECHO, NLM_F_DUMP, NLM_F_EXCL, NLM_F_CREATE } from '../uapi/netlink.js';

/** A refused rtnetlink request, with the kernel's reason in words (extended ack) when it gave one. */
export class NetlinkError extends SyscallError {
  constructor(
    command: string,
    errnoValue: number,
    readonly extack: string | undefined,
  ) {
    super(command, errnoValue, extack ? `(kernel: ${extack})` : undefined);
  }
}

let sequence = 1;
const REPLY_TIMEOUT_SECONDS = 5;

export function nlattr(type: number, payload: Buffer): Buffer {
  const length = NLATTR.size + payload.byteLength;
  const out = Buffer.alloc(align(length, NLA_ALIGNTO));
  nlattrHeader.encode(out, { nla_len: length, nla_type: type });
  payload.copy(out, NLATTR.size);
  return out;
}

function align(length: number, to: number): number {
  return (length + to - 1) & ~(to - 1);
}

/** A C int attribute payload, host order. */
function s32(value: number): Buffer {
  const out = Buffer.alloc(4);
  if (HOST_LITTLE_ENDIAN) out.writeInt32LE(value);
  else out.writeInt32BE(value);
  return out;
}

/** A __u32 attribute payload, host order. */
export function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  if (HOST_LITTLE_ENDIAN) out.writeUInt32LE(value >>> 0);
  else out.writeUInt32BE(value >>> 0);
  return out;
}

/** A __u32 attribute's value (host order), undefined when the payload is shorter. */
export function readU32(payload: Buffer): number | undefined {
  if (payload.byteLength < 4) return undefined;
  return HOST_LITTLE_ENDIAN ? payload.readUInt32LE(0) : payload.readUInt32BE(0);
}

/** One message of a reply: its type and what follows its nlmsghdr. */
export interface NetlinkMessage {
  type: number;
  payload: Buffer;
}

/** The attributes of a payload, from `offset` on, by type (NLA_F_NESTED stripped); the last of a type wins. */
export function parseAttributes(payload: Buffer, offset = 0): Map<number, Buffer> {
  const attributes = new Map<number, Buffer>();
  for (let at = offset; at + NLATTR.size <= payload.byteLength; ) {
    const length = nlattrHeader.get(payload, 'nla_len', at);
    if (length < NLATTR.size || at + length > payload.byteLength) break;
    attributes.set(nlattrHeader.get(payload, 'nla_type', at) & ~NLA_F_NESTED, payload.subarray(at + NLATTR.size, at + length));
    at += align(length, NLA_ALIGNTO);
  }
  return attributes;
}


/**
 * Send one rtnetlink request and collect the reply: the messages the kernel
 * sent back (an echo, a dump's entries) up to its ack or the dump's end. A
 * refusal is a NetlinkError named `command`, with the kernel's reason in words
 * (extended ack) when it gave one.
 */
export function rtnetlinkRequest(type: number, flags: number, body: Buffer, command: string): NetlinkMessage[] {
  const seq = sequence++;
  // NLM_F_EXCL shares a bit with NLM_F_DUMP: a dump has both of its bits
  const dump = (flags & NLM_F_DUMP) === NLM_F_DUMP;
  const header = nlmsghdr.alloc({
    nlmsg_len: NLMSGHDR.size + body.byteLength, nlmsg_type: type, nlmsg_flags: NLM_F_REQUEST | flags | (dump ? 0 : NLM_F_ACK), nlmsg_seq: seq,
  });
  const message = Buffer.concat([header, body]);

  // blocking, with a timeout: some requests (a qdisc whose module is loaded on demand) are answered later
  const owner = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  try {
    setsockopt(owner.fd, SOL_SOCKET, SO_RCVTIMEO, timeval(REPLY_TIMEOUT_SECONDS));
    // ask for the kernel's reason in words (extended ack), without our request echoed back
    setsockoptInt(owner.fd, SOL_NETLINK, NETLINK_EXT_ACK, 1, 'setsockopt(NETLINK_EXT_ACK)');
    setsockoptInt(owner.fd, SOL_NETLINK, NETLINK_CAP_ACK, 1, 'setsockopt(NETLINK_CAP_ACK)');
    sendto(owner.fd, message, sockaddrNl.alloc({ nl_family: AF_NETLINK }));
    const replies: NetlinkMessage[] = [];
    const buffer = Buffer.alloc(32768);
    for (;;) {
      const length = recv(owner.fd, buffer);
      if (length < 0) throw new SyscallError(`recv(${command} reply)`, -length, length === -errno.EAGAIN ? `(no reply in ${REPLY_TIMEOUT_SECONDS} s)` : undefined);
      const outcome = readReply(buffer.subarray(0, length), seq, replies);
      if (outcome === 'more') continue;
      if (outcome.error !== 0) throw new NetlinkError(command, -outcome.error, outcome.message);
      return replies;
    }
  } finally {
    owner.close();
  }
}

/**
 * RTM_SETLINK with IFLA_XDP: attach program fd `fd` to interface `ifindex`
 * (fd -1 detaches). With `expectedFd`, the kernel only acts if that program
 * is the one attached now (XDP_FLAGS_REPLACE, Linux 5.7+).
 */
export function setLinkXdpFd(ifindex: number, fd: number, flags: number, expectedFd?: number): void {
  const nested = [nlattr(IFLA_XDP_FD, s32(fd))];
  if (flags) nested.push(nlattr(IFLA_XDP_FLAGS, s32(flags)));
  if (expectedFd !== undefined) nested.push(nlattr(IFLA_XDP_EXPECTED_FD, s32(expectedFd)));
  const xdp = nlattr(IFLA_XDP | NLA_F_NESTED, Buffer.concat(nested));
  const ifinfo = ifinfomsg.alloc({ ifi_index: ifindex });
  rtnetlinkRequest(RTM_SETLINK, 0, Buffer.concat([ifinfo, xdp]), 'RTM_SETLINK IFLA_XDP');
}

/** Adds this datagram's messages for `seq` to `replies`; says how the request ended, or 'more' to read on. */
function readReply(reply: Buffer, seq: number, replies: NetlinkMessage[]): { error: number; message: string | undefined } | 'more' {
  for (let at = 0; at + NLMSGHDR.size <= reply.byteLength; ) {
    const length = nlmsghdr.get(reply, 'nlmsg_len', at);
    const type = nlmsghdr.get(reply, 'nlmsg_type', at);
    const flags = nlmsghdr.get(reply, 'nlmsg_flags', at);
    if (length < NLMSGHDR.size || at + length > reply.byteLength) break;
    if (nlmsghdr.get(reply, 'nlmsg_seq', at) !== seq) {
      at += align(length, NLMSG_ALIGNTO);
      continue;
    }
    if (type === NLMSG_DONE) return { error: 0, message: undefined };
    if (type === NLMSG_ERROR) {
      const error = nlmsgerr.get(reply, 'error', at + NLMSGHDR.size);
      let message: string | undefined;
      if (flags & NLM_F_ACK_TLVS) {
        // capped ack: nlmsgerr is the error and the request's header, then the TLVs
        const text = parseAttributes(reply.subarray(at, at + length), NLMSGHDR.size + NLMSGERR.size).get(NLMSGERR_ATTR_MSG);
        message = text ? fromCString(text) : undefined;
      }
      return { error, message };
    }
    replies.push({ type, payload: Buffer.from(reply.subarray(at + NLMSGHDR.size, at + length)) });
    at += align(length, NLMSG_ALIGNTO);
  }
  return 'more';
}
