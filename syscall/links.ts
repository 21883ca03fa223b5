import { bpfCommand } from './bpfCommand.js';
import { fdAttr, linkCreateAttr, linkCreatePerfEventAttr, linkCreateTcxAttr, linkCreateTracingAttr, linkUpdateAttr } from './attrCodecs.js';
import { attr } from './native.js';
import { BpfFd } from './fd.js';
import { BPF_ITER_CREATE, BPF_LINK_CREATE, BPF_LINK_DETACH, BPF_LINK_UPDATE } from '../uapi/commands.js';
import { ITER_CREATE_ATTR } from '../uapi/attrs.js';
import { StructCodec } from './structCodec.js';
import { BPF_ATTACH_TYPE, BPF_F_REPLACE } from '../uapi/bpf.js';
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
  try {
    return new BpfFd(bpfCommand(BPF_LINK_CREATE, size, `(prog fd ${a.progFd}, target ${a.target}, attach type ${a.attachType})`));
  } catch (error) {
    const feature = linkFeatureOf(a.attachType);
    throw feature ? explainRefusal(error, [feature]) : error;
  }
}

/** The probe that tells whether this kernel has links of an attach type, for the ones bpf-load makes. */
function linkFeatureOf(attachType: number): FeatureName | undefined {
  switch (attachType) {
    case BPF_ATTACH_TYPE.XDP: return 'xdpLink';
    case BPF_ATTACH_TYPE.TCX_INGRESS:
    case BPF_ATTACH_TYPE.TCX_EGRESS: return 'tcxLink';
    case BPF_ATTACH_TYPE.PERF_EVENT: return 'perfEventLink';
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
