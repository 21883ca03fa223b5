import { bpfCommand } from './bpfCommand.js';
import { attr } from './native.js';
import { BpfFd } from './fd.js';
import { BPF_LINK_CREATE } from './uapi.js';

/**
 * bpf_link commands: an attachment the kernel ties to an fd, so it ends when
 * the last fd (or pin) of it goes, even when its process dies.
 */

/** offsetofend(union bpf_attr, link_create.flags): what the links made here set; the kernel zeroes the rest */
const LINK_CREATE_ATTR_SIZE = 16;

export interface LinkCreateAttr {
  progFd: number;
  /** a cgroup or perf event fd, or an ifindex for XDP and TCX */
  target: number;
  attachType: number;
  flags?: number;
}

/** BPF_LINK_CREATE: the returned fd is the attachment. */
export function linkCreate(a: LinkCreateAttr): BpfFd {
  attr.fill(0, 0, LINK_CREATE_ATTR_SIZE);
  attr.writeUInt32LE(a.progFd >>> 0, 0);
  attr.writeUInt32LE(a.target >>> 0, 4);
  attr.writeUInt32LE(a.attachType >>> 0, 8);
  attr.writeUInt32LE((a.flags ?? 0) >>> 0, 12);
  return new BpfFd(bpfCommand(BPF_LINK_CREATE, LINK_CREATE_ATTR_SIZE, `(prog fd ${a.progFd}, target ${a.target}, attach type ${a.attachType})`));
}
