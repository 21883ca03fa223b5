import { bpfCommand } from './bpfCommand.js';
import { attr } from './native.js';
import { BpfFd } from './fd.js';
import { BPF_LINK_CREATE, BPF_LINK_DETACH, BPF_LINK_GET_FD_BY_ID, BPF_LINK_UPDATE } from './uapi.js';

/**
 * bpf_link commands: an attachment the kernel ties to an fd, so it ends when
 * the last fd (or pin) of it goes, even when its process dies.
 */

/** BPF_F_* flags of tcx/mprog attachment ordering (BPF_F_BEFORE/AFTER place it relative to another) */
export const BPF_F_REPLACE = 1 << 2;
export const BPF_F_BEFORE = 1 << 3;
export const BPF_F_AFTER = 1 << 4;
export const BPF_F_ID = 1 << 5;
export const BPF_F_LINK = 1 << 13;

/** offsetofend(union bpf_attr, link_create.tcx.expected_revision): the largest link_create layout used here */
const LINK_CREATE_ATTR_SIZE = 32;
const LINK_UPDATE_ATTR_SIZE = 16;
const LINK_ID_ATTR_SIZE = 12;


export interface LinkCreateAttr {
  progFd: number;
  /** a cgroup or perf event fd, or an ifindex for XDP and TCX */
  target: number;
  attachType: number;
  flags?: number;
  /** perf_event links: the cookie bpf_get_attach_cookie() returns */
  perfEventCookie?: bigint;
  /** tcx links: the program or link to place this one before or after (with BPF_F_BEFORE/AFTER) */
  tcxRelative?: number;
  /** tcx links: refuse (ESTALE) when the hook changed since this revision was read; 0 = any */
  tcxExpectedRevision?: bigint;
}

/** BPF_LINK_CREATE: the returned fd is the attachment. */
export function linkCreate(a: LinkCreateAttr): BpfFd {
  attr.fill(0, 0, LINK_CREATE_ATTR_SIZE);
  attr.writeUInt32LE(a.progFd >>> 0, 0);
  attr.writeUInt32LE(a.target >>> 0, 4);
  attr.writeUInt32LE(a.attachType >>> 0, 8);
  attr.writeUInt32LE((a.flags ?? 0) >>> 0, 12);
  if (a.perfEventCookie !== undefined) attr.writeBigUInt64LE(a.perfEventCookie, 16);
  if (a.tcxRelative !== undefined) attr.writeUInt32LE(a.tcxRelative >>> 0, 16);
  if (a.tcxExpectedRevision !== undefined) attr.writeBigUInt64LE(a.tcxExpectedRevision, 24);
  return new BpfFd(bpfCommand(BPF_LINK_CREATE, LINK_CREATE_ATTR_SIZE, `(prog fd ${a.progFd}, target ${a.target}, attach type ${a.attachType})`));
}

/** BPF_LINK_UPDATE: swap the program of a link (oldProgFd: only if it still runs that one). */
export function linkUpdate(linkFd: number, newProgFd: number, oldProgFd?: number): void {
  attr.fill(0, 0, LINK_UPDATE_ATTR_SIZE);
  attr.writeUInt32LE(linkFd >>> 0, 0);
  attr.writeUInt32LE(newProgFd >>> 0, 4);
  if (oldProgFd !== undefined) {
    attr.writeUInt32LE(BPF_F_REPLACE, 8);
    attr.writeUInt32LE(oldProgFd >>> 0, 12);
  }
  bpfCommand(BPF_LINK_UPDATE, LINK_UPDATE_ATTR_SIZE, `(link fd ${linkFd})`);
}

/** BPF_LINK_DETACH: end the attachment now, even while other fds or pins of the link remain (Linux >= 5.9). */
export function linkDetach(linkFd: number): void {
  attr.fill(0, 0, 4);
  attr.writeUInt32LE(linkFd >>> 0, 0);
  bpfCommand(BPF_LINK_DETACH, 4, `(link fd ${linkFd})`);
}

export function linkGetFdById(id: number): BpfFd {
  attr.fill(0, 0, LINK_ID_ATTR_SIZE);
  attr.writeUInt32LE(id >>> 0, 0);
  return new BpfFd(bpfCommand(BPF_LINK_GET_FD_BY_ID, LINK_ID_ATTR_SIZE, `(id ${id})`));
}
