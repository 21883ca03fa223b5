import { constants } from 'node:os';
import {
  BPF_ATTACH_TYPE, BPF_PROG_TYPE, NetlinkError, SyscallError, XDP_FLAGS_DRV_MODE, linkCreate, XDP_FLAGS_HW_MODE, XDP_FLAGS_REPLACE, XDP_FLAGS_SKB_MODE, XDP_FLAGS_UPDATE_IF_NOEXIST,
  errno, setLinkXdpFd,
} from '../../syscall/index.js';
import { argumentError, checkBoolean, checkOneOf, checkOptions } from '../errors.js';
import {
  Attachment, attachStep, checkInterface, checkProgramRef, interfaceIndex, detachProgram, progFdOf, programIdOf, programLabel,
  requireProgramType, type ProgramRef,
} from './attachment.js';

export interface XdpOptions {
  /** `skb` (generic, any interface), `drv` (native, in the driver), `hw` (offload); default: the kernel picks */
  mode?: 'skb' | 'drv' | 'hw';
  /** netlink only: replace a program already attached (default: refuse, like xdp1's XDP_FLAGS_UPDATE_IF_NOEXIST); a link never replaces */
  replace?: boolean;
  /**
   * `link` (default): a bpf_link (Linux >= 5.9), which ends when the last fd
   * or pin of it goes, so also when this process dies; `netlink`: IFLA_XDP as
   * `ip link set … xdp` does, which stays until someone removes it.
   */
  via?: 'link' | 'netlink';
}

const XDP_OPTIONS = ['mode', 'replace', 'via'] as const;

const MODE_FLAGS = { skb: XDP_FLAGS_SKB_MODE, drv: XDP_FLAGS_DRV_MODE, hw: XDP_FLAGS_HW_MODE } as const;

/**
 * Attach an XDP program to an interface: through a bpf_link by default, or
 * over rtnetlink (IFLA_XDP) with `via: 'netlink'`, as `ip link set dev IF
 * xdp…` does. close() detaches it; a netlink attachment only while it is
 * still the attached program (it never removes someone else's).
 */
export function attachXdp(program: ProgramRef, ifname: string | number, options: XdpOptions = {}): Attachment {
  const where = 'attachXdp';
  checkProgramRef(program, where);
  checkInterface(ifname, where);
  checkOptions(options, XDP_OPTIONS, where);
  checkOneOf(options.mode, ['skb', 'drv', 'hw'], 'options.mode', where);
  checkOneOf(options.via, ['link', 'netlink'], 'options.via', where);
  checkBoolean(options.replace, 'options.replace', where);
  const via = options.via ?? 'link';
  if (via === 'link' && options.replace) {
    throw argumentError(where, 'options.replace', "false with via: 'link' (a link never replaces a program; use via: 'netlink')", true);
  }
  const what = `attach XDP program to ${typeof ifname === 'number' ? `ifindex ${ifname}` : `'${ifname}'`}`;
  const progFd = progFdOf(program, what);
  requireProgramType(program, what, [BPF_PROG_TYPE.XDP], "attachXdp runs XDP programs: a SEC(\"xdp…\") section, or one loaded with programType 'xdp'");
  const ifindex = interfaceIndex(program, ifname, what);
  const modeFlags = options.mode ? MODE_FLAGS[options.mode] : 0;
  const target = typeof ifname === 'number' ? `ifindex ${ifname}` : ifname;
  if (via === 'link') {
    const link = attachStep(program, what, () => linkCreate({ progFd, target: ifindex, attachType: BPF_ATTACH_TYPE.XDP, flags: modeFlags }),
      (cause) => xdpLinkHint(cause, options));
    return new Attachment('xdp', target, programLabel(program), () => link.close(), link);
  }
  const progId = programIdOf(program, what);
  attachStep(program, what, () => setLinkXdpFd(ifindex, progFd, modeFlags | (options.replace ? 0 : XDP_FLAGS_UPDATE_IF_NOEXIST)),
    (cause) => xdpHint(cause, options));
  return new Attachment('xdp', target, programLabel(program), () => {
    try {
      // XDP_FLAGS_REPLACE: only if our program is still the one attached
      detachProgram(program, progId, (expectedFd) => setLinkXdpFd(ifindex, -1, modeFlags | XDP_FLAGS_REPLACE, expectedFd));
    } catch (error) {
      // EEXIST: another program replaced ours; ENODEV: the interface is gone (and the program with it)
      if (error instanceof SyscallError && (error.errno === errno.EEXIST || error.errno === constants.errno.ENODEV)) return;
      throw error;
    }
  }, undefined, 'netlink');
}


function xdpLinkHint(cause: SyscallError, options: XdpOptions): string | undefined {
  if (cause.errno === constants.errno.EBUSY) {
    return "the interface already has an XDP program (a link never replaces one): detach it, or attach with via: 'netlink', replace: true";
  }
  // the program's type was checked before: the probe behind NOT_SUPPORTED already said the kernel has no XDP links
  if (cause.code === 'BPF_LOAD_NOT_SUPPORTED') {
    const base = xdpHint(cause, options);
    return `${base ? `${base}; ` : ''}attach with via: 'netlink'`;
  }
  return xdpHint(cause, options);
}

function xdpHint(cause: SyscallError, options: XdpOptions): string | undefined {
  const kernel = cause instanceof NetlinkError && cause.extack ? `kernel: ${cause.extack}` : undefined;
  // EBUSY is XDP_FLAGS_UPDATE_IF_NOEXIST meeting a program; EEXIST (a program in the other mode) the kernel explains
  if (cause.errno === constants.errno.EBUSY && !options.replace) {
    return `${kernel ? `${kernel}; ` : ''}the interface already has an XDP program: detach it, or pass replace: true`;
  }
  if (cause.errno === errno.EOPNOTSUPP && options.mode === 'drv') {
    return `${kernel ? `${kernel}; ` : ''}the driver has no native XDP: use mode 'skb' (generic XDP)`;
  }
  return kernel ?? cause.hint;
}

/** Remove whatever XDP program an interface has (`ip link set dev IF xdp off`). */
export function detachXdp(ifname: string | number, mode?: XdpOptions['mode']): void {
  checkInterface(ifname, 'detachXdp');
  checkOneOf(mode, ['skb', 'drv', 'hw'], 'mode', 'detachXdp');
  const what = `detach XDP from ${ifname}`;
  const ifindex = interfaceIndex(undefined, ifname, what);
  attachStep(undefined, what, () => setLinkXdpFd(ifindex, -1, mode ? MODE_FLAGS[mode] : 0), (cause) =>
    cause.errno === constants.errno.EBUSY ? 'a bpf_link holds the program: close (or unpin) the link that attached it' : undefined);
}
