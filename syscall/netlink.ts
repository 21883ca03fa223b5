import { SyscallError } from './errors.js';
import { errno } from './errno.js';
import { AF_NETLINK, SOCK_RAW, SOL_SOCKET, recv, sendto, setsockoptInt, socket, timeval } from './net.js';
import { fromCString } from './cString.js';
import { setsockopt } from './native.js';
import {
  IFLA_XDP, IFLA_XDP_EXPECTED_FD, IFLA_XDP_FD, IFLA_XDP_FLAGS, NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_ROUTE, NLA_F_NESTED,
  NLMSGERR_ATTR_MSG, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_DUMP, NLM_F_REQUEST, RTM_SETLINK, SOL_NETLINK,
} from '../uapi/netlink.js';

/** rtnetlink (NETLINK_ROUTE) for what iproute2 does with `ip link set dev X xdp …`. */

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
const SO_RCVTIMEO = 20;

export function nlattr(type: number, payload: Buffer): Buffer {
  const length = 4 + payload.byteLength;
  const out = Buffer.alloc((length + 3) & ~3);
  out.writeUInt16LE(length, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

function s32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeInt32LE(value);
  return out;
}

export function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32LE(value >>> 0);
  return out;
}

/** One message of a reply: its type and what follows the 16-byte header. */
export interface NetlinkMessage {
  type: number;
  payload: Buffer;
}

/** The attributes of a payload, from `offset` on, by type (NLA_F_NESTED stripped); the last of a type wins. */
export function parseAttributes(payload: Buffer, offset = 0): Map<number, Buffer> {
  const attributes = new Map<number, Buffer>();
  for (let at = offset; at + 4 <= payload.byteLength; ) {
    const length = payload.readUInt16LE(at);
    if (length < 4 || at + length > payload.byteLength) break;
    attributes.set(payload.readUInt16LE(at + 2) & ~NLA_F_NESTED, payload.subarray(at + 4, at + length));
    at += (length + 3) & ~3;
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
  const header = Buffer.alloc(16);
  const seq = sequence++;
  header.writeUInt32LE(16 + body.byteLength, 0);
  header.writeUInt16LE(type, 4);
  // NLM_F_EXCL shares a bit with NLM_F_DUMP: a dump has both of its bits
  const dump = (flags & NLM_F_DUMP) === NLM_F_DUMP;
  header.writeUInt16LE(NLM_F_REQUEST | flags | (dump ? 0 : NLM_F_ACK), 6);
  header.writeUInt32LE(seq, 8);
  const message = Buffer.concat([header, body]);

  // blocking, with a timeout: some requests (a qdisc whose module is loaded on demand) are answered later
  const owner = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  try {
    setsockopt(owner.fd, SOL_SOCKET, SO_RCVTIMEO, timeval(REPLY_TIMEOUT_SECONDS));
    // ask for the kernel's reason in words (extended ack), without our request echoed back
    setsockoptInt(owner.fd, SOL_NETLINK, NETLINK_EXT_ACK, 1, 'setsockopt(NETLINK_EXT_ACK)');
    setsockoptInt(owner.fd, SOL_NETLINK, NETLINK_CAP_ACK, 1, 'setsockopt(NETLINK_CAP_ACK)');
    const kernel = Buffer.alloc(12);
    kernel.writeUInt16LE(AF_NETLINK, 0);
    sendto(owner.fd, message, kernel);
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
  const ifinfo = Buffer.alloc(16);
  ifinfo.writeInt32LE(ifindex, 4);
  rtnetlinkRequest(RTM_SETLINK, 0, Buffer.concat([ifinfo, xdp]), 'RTM_SETLINK IFLA_XDP');
}

/** Adds this datagram's messages for `seq` to `replies`; says how the request ended, or 'more' to read on. */
function readReply(reply: Buffer, seq: number, replies: NetlinkMessage[]): { error: number; message: string | undefined } | 'more' {
  for (let at = 0; at + 16 <= reply.byteLength; ) {
    const length = reply.readUInt32LE(at);
    const type = reply.readUInt16LE(at + 4);
    const flags = reply.readUInt16LE(at + 6);
    if (length < 16 || at + length > reply.byteLength) break;
    if (reply.readUInt32LE(at + 8) !== seq) {
      at += (length + 3) & ~3;
      continue;
    }
    if (type === NLMSG_DONE) return { error: 0, message: undefined };
    if (type === NLMSG_ERROR) {
      const error = reply.readInt32LE(at + 16);
      let message: string | undefined;
      if (flags & NLM_F_ACK_TLVS) {
        // capped ack: nlmsgerr is the error and the request's 16-byte header, then the TLVs
        const text = parseAttributes(reply.subarray(at, at + length), 36).get(NLMSGERR_ATTR_MSG);
        message = text ? fromCString(text) : undefined;
      }
      return { error, message };
    }
    replies.push({ type, payload: Buffer.from(reply.subarray(at + 16, at + length)) });
    at += (length + 3) & ~3;
  }
  return 'more';
}
