import { SyscallError } from './errors.js';
import { errno } from './errno.js';
import { nlattr, parseAttributes, readU32, rtnetlinkRequest, u32 } from './netlink.js';
import { NLA_F_NESTED, NLM_F_CREATE, NLM_F_DUMP, NLM_F_ECHO, NLM_F_EXCL } from '../uapi/netlink.js';
import { fromCString, toCString } from './cString.js';
import { htons } from './net.js';
import { StructCodec } from './structCodec.js';
import {
  ETH_P_ALL, RTM_DELQDISC, RTM_DELTFILTER, RTM_GETTFILTER, RTM_NEWQDISC, RTM_NEWTFILTER, TCA_BPF_FD, TCA_BPF_FLAGS, TCA_BPF_ID,
  TCA_BPF_NAME, TCA_KIND, TCA_OPTIONS, TCMSG, TC_H_CLSACT, TC_H_CLSACT_HANDLE, TC_H_MIN_EGRESS, TC_H_MIN_INGRESS,
} from '../uapi/netlink.js';

/**
 * rtnetlink requests of `tc qdisc … clsact` and `tc filter … bpf`: one
 * function per request, each refusing with a NetlinkError that names it.
 */

export { TCA_BPF_FLAG_ACT_DIRECT } from '../uapi/netlink.js';

const CLSACT_HANDLE = TC_H_CLSACT_HANDLE;
export const TC_PARENT = { ingress: TC_H_MIN_INGRESS, egress: TC_H_MIN_EGRESS } as const;
/** htons(ETH_P_ALL): a filter that sees every protocol */
export const TC_PROTOCOL_ALL = htons(ETH_P_ALL);

const tcmsgCodec = new StructCodec(TCMSG);

/** struct tcmsg: ifindex, handle, parent, info (priority << 16 | protocol in network order). */
function tcmsg(ifindex: number, handle: number, parent: number, info: number): Buffer {
  return tcmsgCodec.alloc({ tcm_ifindex: ifindex, tcm_handle: handle, tcm_parent: parent, tcm_info: info });
}

function filterInfo(priority: number, protocol: number): number {
  return ((priority & 0xffff) << 16) | (protocol & 0xffff);
}

/** `tc qdisc add dev IF clsact`: true when made now, false when the interface had one already. */
export function qdiscAddClsact(ifindex: number): boolean {
  try {
    rtnetlinkRequest(
      RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, Buffer.concat([tcmsg(ifindex, CLSACT_HANDLE, TC_H_CLSACT, 0), nlattr(TCA_KIND, toCString('clsact'))]),
      'RTM_NEWQDISC clsact',
    );
    return true;
  } catch (error) {
    if (error instanceof SyscallError && error.errno === errno.EEXIST) return false;
    throw error;
  }
}

/** `tc qdisc del dev IF clsact` (its filters go with it). */
export function qdiscDelClsact(ifindex: number): void {
  rtnetlinkRequest(
    RTM_DELQDISC, 0, Buffer.concat([tcmsg(ifindex, CLSACT_HANDLE, TC_H_CLSACT, 0), nlattr(TCA_KIND, toCString('clsact'))]),
    'RTM_DELQDISC clsact',
  );
}

export interface BpfFilterRequest {
  ifindex: number;
  parent: number;
  /** 0: the kernel picks one */
  priority: number;
  /** 0: the kernel picks one */
  handle: number;
  protocol: number;
  progFd: number;
  /** what `tc filter show` prints for it */
  name: string;
  flags: number;
}

/** Where a filter sits: what names it for deletion. */
export interface FilterKey {
  ifindex: number;
  parent: number;
  priority: number;
  handle: number;
  protocol: number;
}

/**
 * `tc filter add dev IF PARENT bpf fd N [da]`, refusing to replace a filter
 * already at that priority and handle. Returns where the kernel put it (the
 * request is echoed back, so a priority or handle it picked is known).
 */
export function filterAddBpf(request: BpfFilterRequest): FilterKey {
  const options = Buffer.concat([
    nlattr(TCA_BPF_FD, u32(request.progFd)),
    nlattr(TCA_BPF_NAME, toCString(request.name)),
    nlattr(TCA_BPF_FLAGS, u32(request.flags)),
  ]);
  const replies = rtnetlinkRequest(
    RTM_NEWTFILTER,
    NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO,
    Buffer.concat([
      tcmsg(request.ifindex, request.handle, request.parent, filterInfo(request.priority, request.protocol)),
      nlattr(TCA_KIND, toCString('bpf')),
      nlattr(TCA_OPTIONS | NLA_F_NESTED, options),
    ]),
    'RTM_NEWTFILTER bpf',
  );
  const echo = replies.find((reply) => reply.type === RTM_NEWTFILTER);
  const made = echo ? readFilter(echo.payload) : undefined;
  return {
    ifindex: request.ifindex,
    parent: request.parent,
    priority: made?.priority ?? request.priority,
    handle: made?.handle ?? request.handle,
    protocol: request.protocol,
  };
}

/** `tc filter del dev IF PARENT prio P handle H protocol X bpf`. */
export function filterDel(key: FilterKey): void {
  rtnetlinkRequest(
    RTM_DELTFILTER, 0,
    Buffer.concat([tcmsg(key.ifindex, key.handle, key.parent, filterInfo(key.priority, key.protocol)), nlattr(TCA_KIND, toCString('bpf'))]),
    'RTM_DELTFILTER bpf',
  );
}

export interface FilterEntry extends FilterKey {
  kind: string;
  /** the program of a bpf filter */
  progId: number | undefined;
}

/** `tc filter show dev IF PARENT`: every filter at one hook. */
export function filterList(ifindex: number, parent: number): FilterEntry[] {
  const replies = rtnetlinkRequest(RTM_GETTFILTER, NLM_F_DUMP, tcmsg(ifindex, 0, parent, 0), 'RTM_GETTFILTER');
  return replies.filter((reply) => reply.type === RTM_NEWTFILTER).map((reply) => ({ ifindex, parent, ...readFilter(reply.payload) }));
}

function readFilter(payload: Buffer): Omit<FilterEntry, 'ifindex' | 'parent'> {
  const info = tcmsgCodec.get(payload, 'tcm_info');
  const attributes = parseAttributes(payload, TCMSG.size);
  const kind = attributes.get(TCA_KIND);
  const options = attributes.get(TCA_OPTIONS);
  const id = options ? parseAttributes(options).get(TCA_BPF_ID) : undefined;
  return {
    handle: tcmsgCodec.get(payload, 'tcm_handle'),
    priority: info >>> 16,
    protocol: info & 0xffff,
    kind: kind ? fromCString(kind) : '',
    progId: id ? readU32(id) : undefined,
  };
}
