import { struct } from './layout.js';

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
export const MSG_DONTWAIT = 0x40;
export const SO_RCVTIMEO = 20;

export const EPOLL_CLOEXEC = 0o2000000;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLLIN = 0x001;
export const EPOLLONESHOT = 1 << 30;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;

/** the version of iproute2's map-fd messages (include/bpf_scm.h) */
export const BPF_SCM_UDS_VERSION = 1;
/** BPF_SCM_MAX_FDS (ELF_MAX_MAPS): entries and fds one datagram carries at most */
export const BPF_SCM_MAX_FDS = 64;

// The libc/socket structs the kernel boundary passes: addresses, timeouts, epoll events. Port and
// protocol fields are in network byte order: the encoders swap them, the layouts only place them.

/** struct sockaddr_in (linux/in.h): sin_port and sin_addr in network order */
export const SOCKADDR_IN = struct('sockaddr_in', [
  ['sin_family', 'u16'],
  ['sin_port', 'u16'],
  ['sin_addr', 'bytes', 4],
  ['pad', 'bytes', 8],
]);

/** struct sockaddr_ll (linux/if_packet.h): sll_protocol in network order */
export const SOCKADDR_LL = struct('sockaddr_ll', [
  ['sll_family', 'u16'],
  ['sll_protocol', 'u16'],
  ['sll_ifindex', 's32'],
  ['sll_hatype', 'u16'],
  ['sll_pkttype', 'u8'],
  ['sll_halen', 'u8'],
  ['sll_addr', 'bytes', 8],
]);

/** what SO_RCVTIMEO/SO_SNDTIMEO take on 64-bit (the kernel's struct __kernel_old_timeval) */
export const TIMEVAL = struct('__kernel_old_timeval', [
  ['tv_sec', 'u64'],
  ['tv_usec', 'u64'],
]);

/**
 * struct epoll_event: packed on x86-64 (the u64 data right after the u32 events, 12 bytes), naturally
 * aligned elsewhere (16). data is declared as its 8 bytes so that one declaration places both.
 */
export const EPOLL_EVENT = typeof process === 'object' && process.arch === 'x64'
  ? struct('epoll_event', [['events', 'u32'], ['data', 'bytes', 8]])
  : struct('epoll_event', [['events', 'u32'], ['pad', 'bytes', 4], ['data', 'bytes', 8]]);

/**
 * iproute2's struct bpf_map_aux (include/bpf_scm.h), the payload of each datagram tc sends with map
 * fds, without its entries: u16 uds_ver, u16 num_ent, char obj_name[64], struct { dev_t; ino_t } obj_st
 */
export const BPF_MAP_AUX = struct('bpf_map_aux', [
  ['uds_ver', 'u16'],
  ['num_ent', 'u16'],
  ['obj_name', 'char', 64],
  ['st_dev', 'u64'],
  ['st_ino', 'u64'],
]);

/** iproute2's struct bpf_elf_map, as tc sends it after bpf_map_aux (and writes it in an object's `maps`) */
export const BPF_ELF_MAP = struct('bpf_elf_map', [
  ['type', 'u32'],
  ['size_key', 'u32'],
  ['size_value', 'u32'],
  ['max_elem', 'u32'],
  ['flags', 'u32'],
  ['id', 'u32'],
  ['pinning', 'u32'],
  ['inner_id', 'u32'],
  ['inner_idx', 'u32'],
]);

export const AF_UNIX = 1;
export const SO_PASSCRED = 16;
export const SO_SNDTIMEO = 21;
export const SCM_RIGHTS = 1;
export const SCM_CREDENTIALS = 2;
export const MSG_CTRUNC = 0x8;
export const MSG_TRUNC = 0x20;
export const MSG_CMSG_CLOEXEC = 0x40000000;

/** struct sockaddr_un (linux/un.h): a filesystem path of at most 107 bytes and its NUL */
export const SOCKADDR_UN = struct('sockaddr_un', [
  ['sun_family', 'u16'],
  ['sun_path', 'bytes', 108],
]);

/** struct msghdr as user space passes it to sendmsg/recvmsg (the kernel's struct user_msghdr) */
export const USER_MSGHDR = struct('user_msghdr', [
  ['msg_name', 'ptr'],
  ['msg_namelen', 'u32'],
  ['msg_iov', 'ptr'],
  ['msg_iovlen', 'u64'],
  ['msg_control', 'ptr'],
  ['msg_controllen', 'u64'],
  ['msg_flags', 's32'],
]);

export const IOVEC = struct('iovec', [
  ['iov_base', 'ptr'],
  ['iov_len', 'u64'],
]);

/** struct cmsghdr: a control message's header; its data follows, 8-byte aligned (CMSG_ALIGN) */
export const CMSGHDR = struct('cmsghdr', [
  ['cmsg_len', 'u64'],
  ['cmsg_level', 's32'],
  ['cmsg_type', 's32'],
]);

/** struct ucred: what SCM_CREDENTIALS carries */
export const UCRED = struct('ucred', [
  ['pid', 's32'],
  ['uid', 'u32'],
  ['gid', 'u32'],
]);
