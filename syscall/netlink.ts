import { SyscallError } from './errors.js';
import { AF_NETLINK, SOCK_NONBLOCK, SOCK_RAW, recv, sendto, setsockoptInt, socket } from './net.js';

/** rtnetlink (NETLINK_ROUTE) for what iproute2 does with `ip link set dev X xdp …`. */

const NETLINK_ROUTE = 0;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const RTM_SETLINK = 19;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLMSG_ERROR = 0x2;
const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_MSG = 1;
const NLA_F_NESTED = 0x8000;
const IFLA_XDP = 43;
const IFLA_XDP_FD = 1;
const IFLA_XDP_FLAGS = 3;
const IFLA_XDP_EXPECTED_FD = 8;

export const XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0;
export const XDP_FLAGS_SKB_MODE = 1 << 1;
export const XDP_FLAGS_DRV_MODE = 1 << 2;
export const XDP_FLAGS_HW_MODE = 1 << 3;
export const XDP_FLAGS_REPLACE = 1 << 4;

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

function nlattr(type: number, payload: Buffer): Buffer {
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
  const header = Buffer.alloc(16);
  const seq = sequence++;
  header.writeUInt32LE(16 + ifinfo.byteLength + xdp.byteLength, 0);
  header.writeUInt16LE(RTM_SETLINK, 4);
  header.writeUInt16LE(NLM_F_REQUEST | NLM_F_ACK, 6);
  header.writeUInt32LE(seq, 8);
  const message = Buffer.concat([header, ifinfo, xdp]);

  const owner = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK, NETLINK_ROUTE);
  try {
    // ask for the kernel's reason in words (extended ack), without our request echoed back
    setsockoptInt(owner.fd, SOL_NETLINK, NETLINK_EXT_ACK, 1, 'setsockopt(NETLINK_EXT_ACK)');
    setsockoptInt(owner.fd, SOL_NETLINK, NETLINK_CAP_ACK, 1, 'setsockopt(NETLINK_CAP_ACK)');
    const kernel = Buffer.alloc(12);
    kernel.writeUInt16LE(AF_NETLINK, 0);
    sendto(owner.fd, message, kernel);
    // rtnetlink handles the request inside sendto(): the ack is already queued
    const reply = Buffer.alloc(8192);
    const length = recv(owner.fd, reply);
    if (length < 0) throw new SyscallError('recv(rtnetlink ack)', -length);
    const ack = parseAck(reply.subarray(0, length), seq);
    if (ack.error !== 0) {
      throw new NetlinkError('RTM_SETLINK IFLA_XDP', -ack.error, ack.message);
    }
  } finally {
    owner.close();
  }
}

function parseAck(reply: Buffer, seq: number): { error: number; message: string | undefined } {
  for (let at = 0; at + 16 <= reply.byteLength; ) {
    const length = reply.readUInt32LE(at);
    const type = reply.readUInt16LE(at + 4);
    const flags = reply.readUInt16LE(at + 6);
    if (length < 16 || at + length > reply.byteLength) break;
    if (type === NLMSG_ERROR && reply.readUInt32LE(at + 8) === seq) {
      const error = reply.readInt32LE(at + 16);
      let message: string | undefined;
      if (flags & NLM_F_ACK_TLVS) {
        // capped ack: nlmsgerr is the error and the request's 16-byte header, then the TLVs
        for (let tlv = at + 36; tlv + 4 <= at + length; ) {
          const tlvLength = reply.readUInt16LE(tlv);
          if (tlvLength < 4) break;
          if (reply.readUInt16LE(tlv + 2) === NLMSGERR_ATTR_MSG) {
            message = reply.subarray(tlv + 4, tlv + tlvLength).toString('utf8').replace(/\0.*$/s, '');
          }
          tlv += (tlvLength + 3) & ~3;
        }
      }
      return { error, message };
    }
    at += (length + 3) & ~3;
  }
  throw new SyscallError('recv(rtnetlink ack)', 5 /* EIO */, '(no ack for the request)');
}
