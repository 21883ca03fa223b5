import { BPF_ATTACH_TYPE } from '../uapi/bpf.js';

// The kernel's numbers live in uapi/; syscall/ re-exports them so its importers keep one entry point.
export * from '../uapi/index.js';

/** The cgroup hooks by the names attachCgroup() takes */
export const BPF_CGROUP_ATTACH_TYPE = {
  inet_ingress: BPF_ATTACH_TYPE.CGROUP_INET_INGRESS,
  inet_egress: BPF_ATTACH_TYPE.CGROUP_INET_EGRESS,
  inet_sock_create: BPF_ATTACH_TYPE.CGROUP_INET_SOCK_CREATE,
  sock_ops: BPF_ATTACH_TYPE.CGROUP_SOCK_OPS,
} as const;
