import { struct } from './layout.js';

// rtnetlink and tc numbers and structs from include/uapi/linux/{netlink,rtnetlink,if_link,pkt_sched,pkt_cls}.h,
// spelled as there so they can be grepped.

/** struct nlmsghdr: every message starts with it; nlmsg_len counts the header */
export const NLMSGHDR = struct('nlmsghdr', [
  ['nlmsg_len', 'u32'],
  ['nlmsg_type', 'u16'],
  ['nlmsg_flags', 'u16'],
  ['nlmsg_seq', 'u32'],
  ['nlmsg_pid', 'u32'],
]);
/** struct nlattr: an attribute's header; nla_len counts the header, not the padding to NLA_ALIGNTO */
export const NLATTR = struct('nlattr', [
  ['nla_len', 'u16'],
  ['nla_type', 'u16'],
]);
/** struct nlmsgerr: the payload of an NLMSG_ERROR, the request's header after the errno (only the header: NETLINK_CAP_ACK) */
export const NLMSGERR = struct('nlmsgerr', [
  ['error', 's32'],
  ['msg', 'bytes', NLMSGHDR.size],
]);
/** messages and attributes start at multiples of 4 */
export const NLMSG_ALIGNTO = 4;
export const NLA_ALIGNTO = 4;

/** struct sockaddr_nl: pid 0 is the kernel */
export const SOCKADDR_NL = struct('sockaddr_nl', [
  ['nl_family', 'u16'],
  ['nl_pad', 'u16'],
  ['nl_pid', 'u32'],
  ['nl_groups', 'u32'],
]);

/** struct ifinfomsg: the head of an RTM_*LINK message */
export const IFINFOMSG = struct('ifinfomsg', [
  ['ifi_family', 'u8'],
  ['pad_ifi', 'u8'],
  ['ifi_type', 'u16'],
  ['ifi_index', 's32'],
  ['ifi_flags', 'u32'],
  ['ifi_change', 'u32'],
]);

/** struct tcmsg: the head of a qdisc or filter message; a filter's tcm_info is priority << 16 | protocol (network order) */
export const TCMSG = struct('tcmsg', [
  ['tcm_family', 'u8'],
  ['pad_tcm1', 'u8'],
  ['pad_tcm2', 'u16'],
  ['tcm_ifindex', 's32'],
  ['tcm_handle', 'u32'],
  ['tcm_parent', 'u32'],
  ['tcm_info', 'u32'],
]);

export const NETLINK_ROUTE = 0;
export const SOL_NETLINK = 270;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;

// nlmsghdr.nlmsg_type
export const NLMSG_ERROR = 0x2;
export const NLMSG_DONE = 0x3;
export const RTM_SETLINK = 19;
export const RTM_NEWQDISC = 36;
export const RTM_DELQDISC = 37;
export const RTM_NEWTFILTER = 44;
export const RTM_DELTFILTER = 45;
export const RTM_GETTFILTER = 46;

// nlmsghdr.nlmsg_flags
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_ECHO = 0x8;
export const NLM_F_DUMP = 0x300;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
/** in an NLMSG_ERROR: extended-ack attributes follow */
export const NLM_F_ACK_TLVS = 0x200;
export const NLMSGERR_ATTR_MSG = 1;
/** nla_type bit of an attribute that holds attributes */
export const NLA_F_NESTED = 0x8000;

// IFLA_XDP and its nested attributes
export const IFLA_XDP = 43;
export const IFLA_XDP_FD = 1;
export const IFLA_XDP_FLAGS = 3;
export const IFLA_XDP_EXPECTED_FD = 8;

// tc: TCA_* of a qdisc or filter, TCA_BPF_* of cls_bpf
export const TCA_KIND = 1;
export const TCA_OPTIONS = 2;
export const TCA_BPF_FD = 6;
export const TCA_BPF_NAME = 7;
export const TCA_BPF_FLAGS = 8;
export const TCA_BPF_ID = 11;
/** cls_bpf's direct-action mode: the program's return value is the tc action */
export const TCA_BPF_FLAG_ACT_DIRECT = 1;

/** The clsact qdisc's handle (TC_H_CLSACT, as ffff:) and its two hooks, as filter parents. */
export const TC_H_CLSACT = 0xfffffff1;
export const TC_H_CLSACT_HANDLE = 0xffff0000;
export const TC_H_MIN_INGRESS = 0xfffffff2;
export const TC_H_MIN_EGRESS = 0xfffffff3;

/** include/uapi/linux/if_ether.h: every protocol (a tc filter's protocol is it in network order) */
export const ETH_P_ALL = 0x0003;
