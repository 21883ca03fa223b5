import { bpfCommand } from './bpfCommand.js';
import {
  fdAttr, linkCreateAttr, linkCreateKprobeMultiAttr, linkCreatePerfEventAttr, linkCreateTcxAttr, linkCreateTracingAttr,
  linkCreateUprobeMultiAttr, linkUpdateAttr,
} from './attrCodecs.js';
import { addressOf, attr } from './native.js';
import { toCString } from './cString.js';
import { BpfFd } from './fd.js';
import { BPF_ITER_CREATE, BPF_LINK_CREATE, BPF_LINK_DETACH, BPF_LINK_UPDATE } from '../uapi/commands.js';
import { ITER_CREATE_ATTR } from '../uapi/attrs.js';
import { StructCodec } from './structCodec.js';
import { BPF_ATTACH_TYPE, BPF_F_KPROBE_MULTI_RETURN, BPF_F_REPLACE, BPF_F_UPROBE_MULTI_RETURN } from '../uapi/bpf.js';
import { attachTypeName } from '../uapi/names.js';
import { explainRefusal, type FeatureName } from './probes.js';

/**
 * bpf_link commands: an attachment the kernel ties to an fd, so it ends when
 * the last fd (or pin) of it goes, even when its process dies.
 */


export interface LinkCreateAttr {
  progFd: number;
  /** a cgroup or perf event fd, or an ifindex for XDP and TCX */
  target: number;
  attachType: number;
  flags?: number;
  /** tracing programs: the BTF id of the target (0: the one the program was loaded for) */
  targetBtfId?: number;
  /** perf_event and tracing links: what bpf_get_attach_cookie() returns */
  cookie?: bigint;
  /** TCX: the program or link to attach before or after (BPF_F_BEFORE / BPF_F_AFTER in flags) */
  relativeFd?: number;
  expectedRevision?: bigint;
}

/** BPF_LINK_CREATE: the returned fd is the attachment. */
export function linkCreate(a: LinkCreateAttr): BpfFd {
  const common = { prog_fd: a.progFd, target_fd: a.target, attach_type: a.attachType, flags: a.flags };
  let size: number;
  if (a.targetBtfId !== undefined) {
    size = linkCreateTracingAttr.encode(attr, { ...common, target_btf_id: a.targetBtfId, cookie: a.cookie });
  } else if (a.cookie !== undefined) {
    size = linkCreatePerfEventAttr.encode(attr, { ...common, bpf_cookie: a.cookie });
  } else if (a.relativeFd !== undefined || a.expectedRevision !== undefined) {
    size = linkCreateTcxAttr.encode(attr, { ...common, relative_fd: a.relativeFd, expected_revision: a.expectedRevision });
  } else {
    size = linkCreateAttr.encode(attr, common);
  }
  return createLink(size, a.attachType, `(prog fd ${a.progFd}, target ${a.target}, attach type ${a.attachType})`);
}

function createLink(size: number, attachType: number, detail: string): BpfFd {
  try {
    return new BpfFd(bpfCommand(BPF_LINK_CREATE, size, detail));
  } catch (error) {
    const feature = linkFeatureOf(attachType);
    throw feature ? explainRefusal(error, [feature]) : error;
  }
}

/** A u64 array in the host's order, for the kernel to read through a pointer (kept alive by the caller until the call returns). */
function u64Array(values: readonly (number | bigint)[]): Buffer {
  const array = new BigUint64Array(values.map((v) => BigInt(v)));
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

export interface UprobeMultiAttr {
  progFd: number;
  /** the binary (the kernel opens it) */
  path: string;
  /** file offsets of the probed instructions */
  offsets: readonly number[];
  /** what bpf_get_attach_cookie() returns at each offset */
  cookies?: readonly bigint[];
  /** USDT semaphores: file offsets of the reference counters, one per offset (0: none) */
  refCtrOffsets?: readonly number[];
  /** only this process (0 or undefined: every process) */
  pid?: number;
  retprobe?: boolean;
  /** BPF_TRACE_UPROBE_MULTI (the default), or BPF_TRACE_UPROBE_SESSION (Linux 6.13) */
  attachType?: number;
}

/** BPF_LINK_CREATE of a uprobe_multi link (Linux 6.6): one link for every offset of one binary. */
export function linkCreateUprobeMulti(a: UprobeMultiAttr): BpfFd {
  const path = toCString(a.path);
  const offsets = u64Array(a.offsets);
  const cookies = a.cookies ? u64Array(a.cookies) : undefined;
  const refCtr = a.refCtrOffsets ? u64Array(a.refCtrOffsets) : undefined;
  const size = linkCreateUprobeMultiAttr.encode(attr, {
    prog_fd: a.progFd, target_fd: 0, attach_type: a.attachType ?? BPF_ATTACH_TYPE.TRACE_UPROBE_MULTI, flags: 0,
    path: addressOf(path), offsets: addressOf(offsets), ref_ctr_offsets: refCtr ? addressOf(refCtr) : 0n,
    cookies: cookies ? addressOf(cookies) : 0n, cnt: a.offsets.length, multi_flags: a.retprobe ? BPF_F_UPROBE_MULTI_RETURN : 0,
    pid: a.pid ?? 0,
  });
  const link = createLink(size, a.attachType ?? BPF_ATTACH_TYPE.TRACE_UPROBE_MULTI, `(prog fd ${a.progFd}, uprobe_multi ${a.path}, ${a.offsets.length} offsets)`);
  void [path, offsets, cookies, refCtr];
  return link;
}

/**
 * BPF_LINK_CREATE of a kprobe_multi link (Linux 5.18, CONFIG_FPROBE): kernel functions by name;
 * `attachType` BPF_TRACE_KPROBE_MULTI (the default) or BPF_TRACE_KPROBE_SESSION (Linux 6.10).
 */
export function linkCreateKprobeMulti(a: {
  progFd: number; symbols: readonly string[]; cookies?: readonly bigint[]; retprobe?: boolean; attachType?: number;
}): BpfFd {
  const attachType = a.attachType ?? BPF_ATTACH_TYPE.TRACE_KPROBE_MULTI;
  const names = a.symbols.map((s) => toCString(s, 'latin1'));
  const syms = u64Array(names.map((n) => addressOf(n)));
  const cookies = a.cookies ? u64Array(a.cookies) : undefined;
  const size = linkCreateKprobeMultiAttr.encode(attr, {
    prog_fd: a.progFd, target_fd: 0, attach_type: attachType, flags: 0,
    multi_flags: a.retprobe ? BPF_F_KPROBE_MULTI_RETURN : 0, cnt: a.symbols.length, syms: addressOf(syms), addrs: 0n,
    cookies: cookies ? addressOf(cookies) : 0n,
  });
  const link = createLink(size, attachType, `(prog fd ${a.progFd}, kprobe_multi, ${a.symbols.length} functions)`);
  void [names, syms, cookies];
  return link;
}

/** The probe that tells whether this kernel has links of an attach type, for the ones bpf-load makes. */
function linkFeatureOf(attachType: number): FeatureName | undefined {
  switch (attachType) {
    case BPF_ATTACH_TYPE.XDP: return 'xdpLink';
    case BPF_ATTACH_TYPE.TCX_INGRESS:
    case BPF_ATTACH_TYPE.TCX_EGRESS: return 'tcxLink';
    case BPF_ATTACH_TYPE.PERF_EVENT: return 'perfEventLink';
    case BPF_ATTACH_TYPE.TRACE_UPROBE_MULTI: return 'uprobeMultiLink';
    case BPF_ATTACH_TYPE.TRACE_KPROBE_MULTI: return 'kprobeMultiLink';
    default: return attachType <= BPF_ATTACH_TYPE.CGROUP_SOCK_OPS || attachTypeName(attachType).startsWith('cgroup_') ? 'cgroupLink' : undefined;
  }
}

/** BPF_LINK_UPDATE: the link runs `newProgFd` from now on (only if it ran `oldProgFd`, when given). */
export function linkUpdate(linkFd: number, newProgFd: number, oldProgFd?: number): void {
  const size = linkUpdateAttr.encode(attr, {
    link_fd: linkFd, new_prog_fd: newProgFd, old_prog_fd: oldProgFd, flags: oldProgFd === undefined ? 0 : BPF_F_REPLACE,
  });
  bpfCommand(BPF_LINK_UPDATE, size, `(link fd ${linkFd})`);
}

/** BPF_LINK_DETACH: the attachment ends now, though the fd stays open. */
export function linkDetach(linkFd: number): void {
  const size = fdAttr.encode(attr, { fd: linkFd });
  bpfCommand(BPF_LINK_DETACH, size, `(link fd ${linkFd})`);
}

const iterCreateAttr = new StructCodec(ITER_CREATE_ATTR);

/** BPF_ITER_CREATE: an fd that, read, runs the iterator program behind `linkFd` and gives what it wrote. */
export function iterCreate(linkFd: number): BpfFd {
  const size = iterCreateAttr.encode(attr, { link_fd: linkFd, flags: 0 });
  return new BpfFd(bpfCommand(BPF_ITER_CREATE, size, `(link fd ${linkFd})`));
}
